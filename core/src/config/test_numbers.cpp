// The test_numbers list of the core's config.
#include <ctime>

#include "config/app_config_parts.hpp"

namespace testino::config_detail {
namespace {

std::int64_t parse_date_end(const std::string& text) {
    std::tm tm{};
    const char* end = strptime(text.c_str(), "%Y-%m-%d", &tm);
    if (end == nullptr || *end != '\0') return -1;
    return static_cast<std::int64_t>(timegm(&tm)) + 86400;  // valid through that day (UTC)
}

}  // namespace

std::vector<TestNumber> load_test_numbers(const ConfigSource& source, int otp_length, NumberPolicy policy) {
    std::vector<TestNumber> numbers;
    const YAML::Node list = source.node("test_numbers");
    if (!list.IsDefined() || list.IsNull()) return numbers;
    const std::string at = source.file() + ": test_numbers";
    if (!list.IsSequence()) {
        throw StartupError(at + ": expected a list of {number, code, expires} entries");
    }
    int index = 0;
    for (const auto& entry : list) {
        const std::string where = at + "[" + std::to_string(index++) + "]";
        if (!entry.IsMap()) throw StartupError(where + ": expected a mapping with number and code");
        for (const auto& field : entry) {
            if (!field.first.IsScalar()) throw StartupError(where + ": keys must be plain names");
            const std::string name = field.first.as<std::string>();
            if (name != "number" && name != "code" && name != "expires") {
                throw StartupError(where + "." + name + ": unknown key; allowed keys: number, code, expires");
            }
        }
        if (!entry["number"] || !entry["number"].IsScalar() || !entry["code"] || !entry["code"].IsScalar()) {
            throw StartupError(where + ": number and code are required");
        }
        TestNumber t;
        const Expected<std::string> e164 = normalize_e164(entry["number"].as<std::string>(), policy);
        if (!e164) throw StartupError(where + ".number: " + e164.error().message);
        t.e164 = e164.value();
        t.code = entry["code"].as<std::string>();
        if (t.code.size() != static_cast<std::size_t>(otp_length) ||
            t.code.find_first_not_of("0123456789") != std::string::npos) {
            throw StartupError(where + ".code: must be exactly " + std::to_string(otp_length) +
                               " digits (otp.length)");
        }
        // A forgotten test number is a standing backdoor into one account: each must end.
        if (!entry["expires"] || !entry["expires"].IsScalar()) {
            throw StartupError(where +
                               ".expires: required; a test number must stop working on a date, "
                               "like expires: 2027-01-31");
        }
        t.expires_at = parse_date_end(entry["expires"].as<std::string>());
        if (t.expires_at < 0) throw StartupError(where + ".expires: expected a date like 2027-01-31");
        numbers.push_back(std::move(t));
    }
    return numbers;
}

}  // namespace testino::config_detail
