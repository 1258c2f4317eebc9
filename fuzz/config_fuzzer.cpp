// Fuzzes config loading: the input is the YAML file, read with a fixed environment that
// holds only TOKEN_SECRET, then validated into the typed config. A StartupError is how a bad
// file is reported (main prints it and exits 2), so it is expected; it must name the file.
// Any other exception would escape main's handler as a crash with no useful message: a bug.
// On success the typed values honour the schema's bounds, and --check-config's listing
// masks the secrets.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <map>
#include <sstream>
#include <string>
#include <typeinfo>
#include <vector>

#include "config/config.hpp"
#include "domain/locale.hpp"
#include "domain/message_template.hpp"
#include "domain/sms_segments.hpp"
#include "fuzz_check.hpp"

namespace {

using namespace testino;

constexpr const char* kFile = "fuzz.yaml";
constexpr const char* kTokenSecret = "fuzz-token-secret-0123456789abcdef-0123";

// The value part of the `path.key: value  # origin` line describe() prints for a key.
std::string described_value(const std::string& listing, const std::string& dotted_key) {
    std::istringstream lines(listing);
    std::string line;
    const std::string prefix = dotted_key + ": ";
    while (std::getline(lines, line)) {
        if (line.rfind(prefix, 0) == 0) return line.substr(prefix.size());
    }
    return "<missing>";
}

void check_config(const AppConfig& config) {
    const ServerConfig& s = config.server;
    FUZZ_CHECK(s.threads >= 1 && s.threads <= 64);
    FUZZ_CHECK(s.max_body_bytes >= 64 && s.max_body_bytes <= (1u << 20));
    FUZZ_CHECK(s.header_timeout.count() >= 100 && s.body_timeout.count() >= 100 &&
               s.keepalive_timeout.count() >= 100 && s.shutdown_grace.count() >= 0);
    FUZZ_CHECK(config.otp.length >= 4 && config.otp.length <= 10);
    FUZZ_CHECK(config.otp.expiry.count() >= 1 && config.otp.max_attempts >= 1);
    FUZZ_CHECK(config.otp.message_template.find("{code}") != std::string::npos);
    // Every template is usable and within otp.max_segments; the default locale has one.
    const MessageSettings& m = config.otp.messages;
    FUZZ_CHECK(m.templates.count(m.default_locale) == 1);
    FUZZ_CHECK(m.max_segments >= 1 && m.max_segments <= 10);
    const MessageCatalog catalog(m, config.otp.message_template);
    const std::string code(static_cast<std::size_t>(config.otp.length), '7');
    for (const auto& [locale, text] : m.templates) {
        FUZZ_CHECK(template_problem(text).empty() && is_well_formed_locale(locale));
        const std::string sms = catalog.render(locale, code, config.otp.expiry.count());
        FUZZ_CHECK(sms.find(code) != std::string::npos);
        FUZZ_CHECK(count_sms_segments(sms).segments <= m.max_segments);
    }
    std::vector<std::string> locales;
    for (const auto& entry : m.templates) locales.push_back(entry.first);
    for (const auto& entry : m.country_locales) FUZZ_CHECK(!lookup_locale(entry.second, locales).empty());
    FUZZ_CHECK(config.otp.hmac_secret.size() >= 32);
    if (config.token.algorithm == JwtAlgorithm::hs256) {
        FUZZ_CHECK(config.token.secret == kTokenSecret);  // the environment beats the file
        FUZZ_CHECK(!config.token.key_generated);
    }
    FUZZ_CHECK(!config.token.keys.empty() && config.token.signing_key < config.token.keys.size());
    FUZZ_CHECK(config.token.ttl.count() >= 60);
    FUZZ_CHECK(config.sms.workers >= 1 && config.sms.queue_size >= 1 && config.sms.timeout.count() >= 100);
    // server, server.tls, otp, token, limits, limits.fraud_guard, sms, store, plugins, webhooks
    FUZZ_CHECK(config.sections.size() == 10);
    // Webhooks on: every URL absolute http(s), and a key of 24 to 64 bytes from a whsec_ secret.
    if (config.webhooks.enabled()) {
        FUZZ_CHECK(config.webhooks.secret.size() >= 24 && config.webhooks.secret.size() <= 64);
        for (const std::string& url : config.webhooks.urls) {
            FUZZ_CHECK(url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0);
        }
    }

    std::ostringstream listing;
    for (const ConfigSection& section : config.sections) section.describe(listing);
    FUZZ_CHECK(described_value(listing.str(), "token.secret").rfind("\"***\"", 0) == 0);
    if (config.webhooks.enabled()) {
        FUZZ_CHECK(described_value(listing.str(), "webhooks.secret").rfind("\"***\"", 0) == 0);
    }
    const std::string hmac = described_value(listing.str(), "otp.hmac_secret");
    FUZZ_CHECK(hmac == "(unset)" || hmac.rfind("\"***\"", 0) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size > 16384) return -1;  // a config file is a page or two
    const std::string yaml(reinterpret_cast<const char*>(data), size);
    try {
        const ConfigSource source = ConfigSource::from_string(yaml, kFile, {{"TOKEN_SECRET", kTokenSecret}});
        check_config(load_app_config(source, "/nonexistent/testino-fuzz/plugins"));
    } catch (const StartupError& e) {
        // main prints "testino-server: <what>": it must say which file is wrong.
        FUZZ_CHECK(std::string(e.what()).rfind(kFile, 0) == 0);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "config_fuzzer: %s escaped config loading: %s\n", typeid(e).name(), e.what());
        __builtin_trap();
    }
    return 0;
}
