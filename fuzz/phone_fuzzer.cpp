// Fuzzes phone normalisation: the input is "<country_code>\n<mobile_number>" (no newline:
// the whole input is the number, with country code "+1"). Invariants beyond "no crash, no
// sanitizer report":
// - a success is E.164 ("+" and at most 15 digits) starting with the requested calling code;
// - a failure is a VALIDATION_ERROR naming country_code or mobile_number, with a message;
// - "+44" and "44" mean the same calling code: both give the same answer;
// - separators (spaces, dashes, dots, parentheses) never change the answer's number.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "domain/phone.hpp"
#include "fuzz_check.hpp"

namespace {

using namespace testino;

bool same_answer(const Expected<std::string>& a, const Expected<std::string>& b) {
    if (a.ok() != b.ok()) return false;
    if (a.ok()) return a.value() == b.value();
    return a.error().field == b.error().field;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // The request parser caps each field at 64 bytes.
    if (size > 2 * 64 + 1) return -1;
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const std::size_t newline = input.find('\n');
    const std::string country_code =
        newline == std::string_view::npos ? "+1" : std::string(input.substr(0, newline));
    const std::string number =
        std::string(newline == std::string_view::npos ? input : input.substr(newline + 1));

    const Expected<std::string> e164 = normalize_phone(country_code, number);
    fuzz::check_normalized(e164, country_code);

    const std::string other_form =
        !country_code.empty() && country_code.front() == '+' ? country_code.substr(1) : "+" + country_code;
    // "++1" is invalid while its "other form" "+1" is not: that pair is not the same code.
    if (country_code.rfind("++", 0) != 0) {
        FUZZ_CHECK(same_answer(e164, normalize_phone(other_form, number)));
    }
    FUZZ_CHECK(same_answer(e164, normalize_phone(country_code, "(" + number + ") -.")));
    return 0;
}
