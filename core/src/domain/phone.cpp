#include "domain/phone.hpp"

#include <phonenumbers/phonenumber.pb.h>
#include <phonenumbers/phonenumberutil.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <set>

#include "domain/phone_cache.hpp"

namespace testino {

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

namespace {

// Verdicts of ~32,000 numbers: a few MiB when full, nothing until numbers arrive.
constexpr std::size_t kVerdictCacheEntries = 32768;

// Calling codes libphonenumber knows, looked up once: GetRegionCodeForCountryCode()
// builds a list of regions on every call (~25,000 instructions).
bool known_calling_code(int code) {
    static const std::array<bool, 1000> known = [] {
        std::array<bool, 1000> table{};
        std::set<int> codes;
        PhoneNumberUtil::GetInstance()->GetSupportedCallingCodes(&codes);
        for (const int c : codes) {
            if (c > 0 && c < 1000) table[static_cast<std::size_t>(c)] = true;
        }
        return table;
    }();
    return code > 0 && code < 1000 && known[static_cast<std::size_t>(code)];
}

PhoneVerdictCache::Entry ask_libphonenumber(const std::string& cc, const std::string& digits) {
    using Verdict = PhoneVerdictCache::Verdict;
    const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
    PhoneNumber number;
    if (util.Parse("+" + cc + digits, "ZZ", &number) != PhoneNumberUtil::NO_PARSING_ERROR ||
        std::to_string(number.country_code()) != cc) {
        return {Verdict::not_a_number, {}};
    }
    // GetNumberType() is UNKNOWN exactly when IsValidNumber() is false; calling both would
    // run libphonenumber's region matching twice.
    switch (util.GetNumberType(number)) {
        case PhoneNumberUtil::MOBILE:
        case PhoneNumberUtil::FIXED_LINE_OR_MOBILE:
        case PhoneNumberUtil::PERSONAL_NUMBER: break;
        case PhoneNumberUtil::VOIP: {
            PhoneVerdictCache::Entry voip{Verdict::voip, {}};
            util.Format(number, PhoneNumberUtil::E164, &voip.e164);
            return voip;
        }
        case PhoneNumberUtil::UNKNOWN: return {Verdict::not_a_number, {}};
        default:
            // Fixed lines cannot read an SMS; premium-rate and shared-cost numbers are how
            // SMS pumping makes money.
            return {Verdict::cannot_receive, {}};
    }
    PhoneVerdictCache::Entry valid{Verdict::valid, {}};
    util.Format(number, PhoneNumberUtil::E164, &valid.e164);
    return valid;
}

}  // namespace

Expected<std::string> normalize_phone(std::string_view country_code, std::string_view national_number,
                                      NumberPolicy policy) {
    std::string_view cc = country_code;
    if (!cc.empty() && cc.front() == '+') cc.remove_prefix(1);
    const bool cc_ok = !cc.empty() && cc.size() <= 3 && cc.front() != '0' &&
                       std::all_of(cc.begin(), cc.end(), [](unsigned char c) { return std::isdigit(c); });
    if (!cc_ok) {
        return validation_error("country_code", "country_code must be a calling code like \"+1\" or \"44\"");
    }

    // The cache key: calling code, ':', the digits (what libphonenumber is given).
    std::string key(cc);
    key.push_back(':');
    for (const unsigned char c : national_number) {
        if (std::isdigit(c)) {
            key.push_back(static_cast<char>(c));
        } else if (c != ' ' && c != '-' && c != '.' && c != '(' && c != ')') {
            return validation_error("mobile_number",
                                    "mobile_number may contain only digits, spaces, dashes, dots "
                                    "and parentheses");
        }
    }
    const std::size_t digit_count = key.size() - cc.size() - 1;
    if (digit_count < 4 || digit_count > 15) {
        return validation_error("mobile_number", "mobile_number must have 4 to 15 digits");
    }
    if (!known_calling_code(std::stoi(std::string(cc)))) {
        return validation_error("country_code", "+" + std::string(cc) + " is not a country calling code");
    }

    static PhoneVerdictCache cache(kVerdictCacheEntries);
    std::optional<PhoneVerdictCache::Entry> entry = cache.find(key);
    if (!entry) {
        entry = ask_libphonenumber(std::string(cc), key.substr(cc.size() + 1));
        cache.insert(key, *entry);
    }
    switch (entry->verdict) {
        case PhoneVerdictCache::Verdict::valid: return std::move(entry->e164);
        case PhoneVerdictCache::Verdict::voip:
            if (policy.allow_voip) return std::move(entry->e164);
            return validation_error("mobile_number",
                                    "mobile_number is a VOIP number, which cannot receive codes here");
        case PhoneVerdictCache::Verdict::cannot_receive:
            return validation_error("mobile_number", "mobile_number cannot receive SMS messages");
        case PhoneVerdictCache::Verdict::not_a_number: break;
    }
    return validation_error("mobile_number",
                            "mobile_number is not a valid phone number for +" + std::string(cc));
}

Expected<std::string> normalize_e164(std::string_view number, NumberPolicy policy) {
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
    return normalize_phone(std::to_string(parsed.country_code()), national, policy);
}

}  // namespace testino
