// Fuzzes what a client controls in a request body: parse_send_otp, parse_verify_otp and parse_refresh on the
// raw bytes, then normalize_phone on whatever they accepted (the send/verify request path up
// to the store). Invariants beyond "no crash, no sanitizer report":
// - every error is INVALID_JSON or VALIDATION_ERROR with a message, a field for the latter,
//   and serialises to the documented error shape;
// - an accepted body has string fields of at most 64 bytes, an otp of exactly the asked
//   number of ASCII digits, and parsing a body rebuilt from the result gives the same result;
// - a normalised number is E.164 and starts with the requested calling code;
// - an accepted locale is a well-formed BCP 47 tag, and the same bytes as an Accept-Language
//   header give ranges that are language ranges, which lookup maps to a listed locale or "".
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "domain/locale.hpp"
#include "domain/phone.hpp"
#include "domain/refresh_token.hpp"
#include "fuzz_check.hpp"
#include "http/request_parsing.hpp"

namespace {

using namespace testino;

std::string json_object(std::initializer_list<std::pair<const char*, const std::string*>> fields) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.StartObject();
    for (const auto& [name, value] : fields) {
        w.Key(name);
        w.String(value->data(), static_cast<rapidjson::SizeType>(value->size()));
    }
    w.EndObject();
    return {buffer.GetString(), buffer.GetSize()};
}

void check_parse_error(const ApiError& error) {
    fuzz::check_api_error(error);
    FUZZ_CHECK(error.code == ErrorCode::invalid_json || error.code == ErrorCode::validation_error);
    if (error.code == ErrorCode::invalid_json) FUZZ_CHECK(error.field.empty());
}

void fuzz_send(std::string_view body) {
    const Expected<SendOtpRequest> request = parse_send_otp(body);
    if (!request) {
        check_parse_error(request.error());
        return;
    }
    FUZZ_CHECK(request->country_code.size() <= 64 && request->mobile_number.size() <= 64);
    FUZZ_CHECK(request->locale.size() <= 64 &&
               (request->locale.empty() || is_well_formed_locale(request->locale)));
    // The parsed request, written back out, parses to itself: channel included when present.
    const std::string channel = request->channel ? sdk::to_string(*request->channel) : "";
    const std::string rewritten = request->channel ? json_object({{"country_code", &request->country_code},
                                                                  {"mobile_number", &request->mobile_number},
                                                                  {"locale", &request->locale},
                                                                  {"channel", &channel}})
                                                   : json_object({{"country_code", &request->country_code},
                                                                  {"mobile_number", &request->mobile_number},
                                                                  {"locale", &request->locale}});
    const Expected<SendOtpRequest> again = parse_send_otp(rewritten);
    FUZZ_CHECK(again && again->country_code == request->country_code &&
               again->mobile_number == request->mobile_number && again->locale == request->locale &&
               again->channel == request->channel);
    fuzz::check_normalized(normalize_phone(request->country_code, request->mobile_number),
                           request->country_code);
}

void fuzz_verify(std::string_view body, int otp_length) {
    const Expected<VerifyOtpRequest> request = parse_verify_otp(body, otp_length);
    if (!request) {
        check_parse_error(request.error());
        return;
    }
    FUZZ_CHECK(request->country_code.size() <= 64 && request->mobile_number.size() <= 64);
    FUZZ_CHECK(request->otp.size() == static_cast<std::size_t>(otp_length));
    for (const char c : request->otp) FUZZ_CHECK(c >= '0' && c <= '9');
    const Expected<VerifyOtpRequest> again =
        parse_verify_otp(json_object({{"country_code", &request->country_code},
                                      {"mobile_number", &request->mobile_number},
                                      {"otp", &request->otp}}),
                         otp_length);
    FUZZ_CHECK(again && again->country_code == request->country_code &&
               again->mobile_number == request->mobile_number && again->otp == request->otp);
    fuzz::check_normalized(normalize_phone(request->country_code, request->mobile_number),
                           request->country_code);
}

// The bytes as an Accept-Language header, each range looked up among some locales.
void fuzz_accept_language(std::string_view header) {
    static const std::vector<std::string> available = {"en", "pt", "zh", "zh-Hant", "es"};
    const std::vector<std::string> ranges = parse_accept_language(header);
    FUZZ_CHECK(ranges.size() <= 32);
    for (const std::string& range : ranges) {
        FUZZ_CHECK(!range.empty() && range != "*" && range.size() <= header.size());
        const std::string found = lookup_locale(range, available);
        FUZZ_CHECK(found.empty() || std::find(available.begin(), available.end(), found) != available.end());
    }
}

// Refresh and logout bodies, and whatever token a client puts in them.
void fuzz_refresh(std::string_view body) {
    const Expected<RefreshRequest> request = parse_refresh(body);
    if (!request) {
        check_parse_error(request.error());
        return;
    }
    FUZZ_CHECK(request->refresh_token.size() <= 256);
    const std::optional<RefreshToken> token = parse_refresh_token(request->refresh_token);
    if (token) {
        FUZZ_CHECK(request->refresh_token.size() == kRefreshTokenLength);
        FUZZ_CHECK(token->family == request->refresh_token.substr(0, kRefreshFamilyLength));
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // The server never reads more than server.max_body_bytes (at most 1 MiB); longer inputs
    // only slow the search down.
    if (size > 8192) return -1;
    const std::string_view body(reinterpret_cast<const char*>(data), size);
    fuzz_send(body);
    // otp.length is 4..10 in the config: both ends and the default.
    for (const int otp_length : {4, 6, 10}) fuzz_verify(body, otp_length);
    fuzz_refresh(body);
    fuzz_accept_language(body);
    return 0;
}
