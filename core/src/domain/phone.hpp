// Phone numbers: validated and normalised to E.164 with libphonenumber.
#pragma once

#include <string>
#include <string_view>

#include "domain/errors.hpp"

namespace testino {

// Which kinds of valid number are accepted.
struct NumberPolicy {
    // VOIP numbers are refused by default (NIST SP 800-63B 5.1.3.3: an out-of-band code must
    // go to a device, and a VOIP number is not bound to one).
    bool allow_voip = false;
};

// `country_code` is "+1" or "1"; `national_number` may hold spaces, dashes, dots and
// parentheses. Returns "+12025550123", or a 422 naming the field at fault. Numbers that
// cannot receive an SMS (fixed line, premium rate, toll free, ...) are refused too, and so
// are VOIP numbers unless `policy` allows them.
Expected<std::string> normalize_phone(std::string_view country_code, std::string_view national_number,
                                      NumberPolicy policy = {});

// As above for a number written whole, "+12025550123" or "+1 202-555-0123".
Expected<std::string> normalize_e164(std::string_view number, NumberPolicy policy = {});

}  // namespace testino
