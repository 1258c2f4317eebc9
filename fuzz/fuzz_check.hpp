// Invariant checks shared by the harnesses: a violated one prints what broke and traps, so
// libFuzzer records the input as a crash just like a sanitizer report.
#pragma once

#include <rapidjson/document.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <string_view>

#include "domain/errors.hpp"

#define FUZZ_CHECK(condition)                                                                              \
    do {                                                                                                   \
        if (!(condition)) {                                                                                \
            std::fprintf(stderr, "fuzz invariant violated: %s (%s:%d)\n", #condition, __FILE__, __LINE__); \
            __builtin_trap();                                                                              \
        }                                                                                                  \
    } while (0)

namespace testino::fuzz {

// An error the API could send: a code from the table, a non-empty message, a field for
// every 422 validation error, and a body that is the documented JSON error shape.
inline void check_api_error(const ApiError& error) {
    const auto& table = all_errors();
    FUZZ_CHECK(std::any_of(table.begin(), table.end(),
                           [&](const ErrorInfo& info) { return info.code == error.code; }));
    FUZZ_CHECK(!error.message.empty());
    if (error.code == ErrorCode::validation_error) FUZZ_CHECK(!error.field.empty());

    const std::string body = error_body(error);
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseValidateEncodingFlag>(body.data(), body.size());
    FUZZ_CHECK(!doc.HasParseError() && doc.IsObject());
    FUZZ_CHECK(doc.HasMember("success") && doc["success"].IsFalse());
    FUZZ_CHECK(doc.HasMember("error") && doc["error"].IsString() &&
               std::string_view(doc["error"].GetString()) == error_info(error.code).machine_code);
    FUZZ_CHECK(doc.HasMember("message") && doc["message"].IsString() &&
               std::string_view(doc["message"].GetString(), doc["message"].GetStringLength()) ==
                   error.message);
    if (error.code == ErrorCode::validation_error) {
        FUZZ_CHECK(doc.HasMember("field") && doc["field"].IsString() &&
                   std::string_view(doc["field"].GetString(), doc["field"].GetStringLength()) == error.field);
    }
}

// A successful normalisation: "+" then 1 to 15 digits (E.164), starting with the calling
// code that was asked for.
inline void check_e164(const std::string& e164, std::string_view country_code) {
    if (!country_code.empty() && country_code.front() == '+') country_code.remove_prefix(1);
    FUZZ_CHECK(e164.size() >= 2 && e164.size() <= 16);
    FUZZ_CHECK(e164.front() == '+');
    FUZZ_CHECK(std::all_of(e164.begin() + 1, e164.end(), [](char c) { return c >= '0' && c <= '9'; }));
    FUZZ_CHECK(std::string_view(e164).substr(1, country_code.size()) == country_code);
}

// What normalize_phone may answer: E.164 as above, or a 422 naming one of its two inputs.
inline void check_normalized(const Expected<std::string>& e164, std::string_view country_code) {
    if (e164) {
        check_e164(e164.value(), country_code);
        return;
    }
    check_api_error(e164.error());
    FUZZ_CHECK(e164.error().code == ErrorCode::validation_error);
    FUZZ_CHECK(e164.error().field == "country_code" || e164.error().field == "mobile_number");
}

}  // namespace testino::fuzz
