#include "http/request_parsing.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <algorithm>
#include <array>
#include <optional>

#include "domain/locale.hpp"

namespace testino {
namespace {

constexpr std::size_t kMaxFieldBytes = 64;
// Iterative parsing: deep nesting cannot exhaust the stack. UTF-8 is validated.
constexpr unsigned kParseFlags = rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag;

// rapidjson checks the raw bytes of a body (kParseValidateEncodingFlag) but decodes an
// escaped lone surrogate ("\udc00") to the bytes ED B0 80, which are not UTF-8. Only such
// escapes can produce ED followed by A0-BF, so that pair is what to look for.
bool has_lone_surrogate(const char* text, std::size_t length) {
    for (std::size_t i = 0; i + 1 < length; ++i) {
        if (static_cast<unsigned char>(text[i]) == 0xED && static_cast<unsigned char>(text[i + 1]) >= 0xA0) {
            return true;
        }
    }
    return false;
}

// Reads `names` from a JSON object body into `out` (same order), or says what is wrong.
// The first `required` names must be present; the others are optional ("" when absent).
template <std::size_t N>
std::optional<ApiError> read_string_fields(std::string_view body, const std::array<const char*, N>& names,
                                           std::array<std::string, N>& out, std::size_t required = N,
                                           std::size_t max_bytes = kMaxFieldBytes,
                                           std::array<bool, N>* present = nullptr) {
    if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
        return make_error(ErrorCode::invalid_json, "Request body is empty; expected a JSON object");
    }
    // The document and the parser's stack live in buffers on the stack (pool allocators
    // over them): no allocation for a body of ordinary size; larger ones spill to the heap.
    using Pool = rapidjson::MemoryPoolAllocator<>;
    char value_space[2048];
    char stack_space[1024];
    Pool values(value_space, sizeof value_space);
    Pool stack(stack_space, sizeof stack_space);
    rapidjson::GenericDocument<rapidjson::UTF8<>, Pool, Pool> doc(&values, 512, &stack);
    doc.Parse<kParseFlags>(body.data(), body.size());
    if (doc.HasParseError()) {
        return make_error(ErrorCode::invalid_json, std::string("Request body is not valid JSON: ") +
                                                       rapidjson::GetParseError_En(doc.GetParseError()) +
                                                       " (at byte " + std::to_string(doc.GetErrorOffset()) +
                                                       ")");
    }
    if (!doc.IsObject()) {
        return validation_error("body", "Request body must be a JSON object");
    }
    std::array<bool, N> seen{};
    for (const auto& member : doc.GetObject()) {
        if (has_lone_surrogate(member.name.GetString(), member.name.GetStringLength()) ||
            (member.value.IsString() &&
             has_lone_surrogate(member.value.GetString(), member.value.GetStringLength()))) {
            return make_error(ErrorCode::invalid_json,
                              "Request body is not valid JSON: a \\u escape names a lone surrogate");
        }
        const std::string name(member.name.GetString(), member.name.GetStringLength());
        const auto it = std::find_if(names.begin(), names.end(), [&](const char* n) { return name == n; });
        if (it == names.end()) {
            // Echo the name only when it is plain printable ASCII: an escaped lone surrogate
            // ("\udc00") decodes to bytes that are not UTF-8, and a reply must stay valid JSON.
            const bool printable = !name.empty() && std::all_of(name.begin(), name.end(),
                                                                [](char c) { return c >= 0x20 && c < 0x7f; });
            return printable ? validation_error(name, "Unknown field \"" + name + "\"")
                             : validation_error("body", "Request body has an unknown field");
        }
        const auto index = static_cast<std::size_t>(it - names.begin());
        if (seen[index]) return validation_error(name, "Field \"" + name + "\" appears twice");
        seen[index] = true;
        if (!member.value.IsString()) {
            return validation_error(name, "Field \"" + name + "\" must be a string");
        }
        if (member.value.GetStringLength() > max_bytes) {
            return validation_error(name, "Field \"" + name + "\" is too long");
        }
        out[index].assign(member.value.GetString(), member.value.GetStringLength());
    }
    for (std::size_t i = 0; i < required; ++i) {
        if (!seen[i]) {
            return validation_error(names[i], std::string("Field \"") + names[i] + "\" is required");
        }
    }
    if (present) *present = seen;
    return std::nullopt;
}

}  // namespace

Expected<SendOtpRequest> parse_send_otp(std::string_view body) {
    static constexpr std::array<const char*, 4> names = {"country_code", "mobile_number", "locale",
                                                         "channel"};
    std::array<std::string, 4> values;
    std::array<bool, 4> present{};
    if (auto error = read_string_fields(body, names, values, 2, kMaxFieldBytes, &present)) return *error;
    if (!values[2].empty() && !is_well_formed_locale(values[2])) {
        return validation_error("locale",
                                "Field \"locale\" must be a BCP 47 language tag, like \"en\" or \"pt-BR\"");
    }
    SendOtpRequest request{
        std::move(values[0]), std::move(values[1]), std::move(values[2]), "", std::nullopt, ""};
    // A channel that is present must be one: "" is refused like any other unknown name.
    if (present[3]) {
        sdk::Channel channel{};
        if (!sdk::parse_channel(values[3], channel)) {
            return validation_error("channel",
                                    "Field \"channel\" must be \"sms\", \"whatsapp\" or \"voice\"");
        }
        request.channel = channel;
    }
    return request;
}

Expected<VerifyOtpRequest> parse_verify_otp(std::string_view body, int otp_length) {
    static constexpr std::array<const char*, 4> names = {"country_code", "mobile_number", "otp",
                                                         "verification_id"};
    std::array<std::string, 4> values;
    if (auto error = read_string_fields(body, names, values, 3)) return *error;
    const std::string& otp = values[2];
    const bool digits_only = std::all_of(otp.begin(), otp.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (otp.size() != static_cast<std::size_t>(otp_length) || !digits_only) {
        return validation_error(
            "otp", "Field \"otp\" must be exactly " + std::to_string(otp_length) + " digits (0-9)");
    }
    const std::string& id = values[3];
    const bool id_alphabet = std::all_of(id.begin(), id.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
               c == '_';
    });
    if (!id.empty() && (id.size() != kVerificationIdLength || !id_alphabet)) {
        return validation_error(
            "verification_id",
            "Field \"verification_id\" must be the verification_id that send-otp returned");
    }
    return VerifyOtpRequest{std::move(values[0]), std::move(values[1]), std::move(values[2]),
                            std::move(values[3])};
}

Expected<RefreshRequest> parse_refresh(std::string_view body) {
    static constexpr std::array<const char*, 1> names = {"refresh_token"};
    std::array<std::string, 1> values;
    // Room for a token of another shape, so that it is refused as a token (401), not as a field.
    if (auto error = read_string_fields(body, names, values, 1, 256)) return *error;
    return RefreshRequest{std::move(values[0])};
}

}  // namespace testino
