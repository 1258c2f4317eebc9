#include "domain/phone.hpp"

#include <phonenumbers/phonenumber.pb.h>
#include <phonenumbers/phonenumberutil.h>

#include <algorithm>
#include <cctype>

namespace testino {

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

Expected<std::string> normalize_phone(std::string_view country_code,
                                      std::string_view national_number) {
    std::string_view cc = country_code;
    if (!cc.empty() && cc.front() == '+') cc.remove_prefix(1);
    const bool cc_ok = !cc.empty() && cc.size() <= 3 && cc.front() != '0' &&
                       std::all_of(cc.begin(), cc.end(), [](unsigned char c) { return std::isdigit(c); });
    if (!cc_ok) {
        return validation_error("country_code",
                                "country_code must be a calling code like \"+1\" or \"44\"");
    }

    std::string digits;
    for (const unsigned char c : national_number) {
        if (std::isdigit(c)) {
            digits.push_back(static_cast<char>(c));
        } else if (c != ' ' && c != '-' && c != '.' && c != '(' && c != ')') {
            return validation_error("mobile_number",
                                    "mobile_number may contain only digits, spaces, dashes, dots "
                                    "and parentheses");
        }
    }
    if (digits.size() < 4 || digits.size() > 15) {
        return validation_error("mobile_number", "mobile_number must have 4 to 15 digits");
    }

    const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
    std::string region;
    util.GetRegionCodeForCountryCode(std::stoi(std::string(cc)), &region);
    if (region == "ZZ") {
        return validation_error("country_code", "+" + std::string(cc) + " is not a country calling code");
    }
    PhoneNumber number;
    const std::string text = "+" + std::string(cc) + digits;
    if (util.Parse(text, "ZZ", &number) != PhoneNumberUtil::NO_PARSING_ERROR ||
        std::to_string(number.country_code()) != cc) {
        return validation_error("mobile_number", "mobile_number is not a valid phone number for +" +
                                                     std::string(cc));
    }
    // GetNumberType() is UNKNOWN exactly when IsValidNumber() is false; calling both would
    // run libphonenumber's region matching twice (the bulk of a request's CPU).
    switch (util.GetNumberType(number)) {
        case PhoneNumberUtil::MOBILE:
        case PhoneNumberUtil::FIXED_LINE_OR_MOBILE:
        case PhoneNumberUtil::PERSONAL_NUMBER:
        case PhoneNumberUtil::VOIP:
            break;
        case PhoneNumberUtil::UNKNOWN:
            return validation_error("mobile_number", "mobile_number is not a valid phone number for +" +
                                                         std::string(cc));
        default:
            // Fixed lines cannot read an SMS; premium-rate and shared-cost numbers are how
            // SMS pumping makes money.
            return validation_error("mobile_number", "mobile_number cannot receive SMS messages");
    }
    std::string e164;
    util.Format(number, PhoneNumberUtil::E164, &e164);
    return e164;
}

Expected<std::string> normalize_e164(std::string_view number) {
    if (number.empty() || number.front() != '+') {
        return validation_error("number", "a number must start with + and its country code");
    }
    const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
    PhoneNumber parsed;
    if (util.Parse(std::string(number), "ZZ", &parsed) != PhoneNumberUtil::NO_PARSING_ERROR) {
        return validation_error("number", "not a phone number");
    }
    std::string national;
    util.GetNationalSignificantNumber(parsed, &national);
    return normalize_phone(std::to_string(parsed.country_code()), national);
}

}  // namespace testino
