// The parts of the core's config that have a structure of their own (the SMS routing, the
// test numbers), read by load_app_config. Internal to core/src/config.
#pragma once

#include <vector>

#include "config/config.hpp"
#include "domain/phone.hpp"

namespace testino::config_detail {

// sms.provider or sms.providers (the default route), and sms.routes (per calling code).
void load_sms_routing(const ConfigSource& source, const ConfigSection& sms, SmsConfig& sms_config);

// The test_numbers list: each entry needs a code of `otp_length` digits and an expiry date.
std::vector<TestNumber> load_test_numbers(const ConfigSource& source, int otp_length, NumberPolicy policy);

}  // namespace testino::config_detail
