// Plugin glue for the `memory` OTP store: descriptor, config, factory, exports.
#include "testino/plugin.hpp"

#include <memory>

#include "memory_store.hpp"

namespace {

using testino::sdk::ConfigKey;
using testino::sdk::ValueType;

ConfigKey integer_key(const char* name, const char* default_value, const char* description,
                      std::int64_t min, std::int64_t max = INT64_MAX) {
    ConfigKey key;
    key.name = name;
    key.type = ValueType::integer;
    key.default_value = default_value;
    key.description = description;
    key.min = min;
    key.max = max;
    return key;
}

testino::sdk::PluginDescriptor memory_store_descriptor() {
    ConfigKey max_codes =
        integer_key("max_codes", "1000000",
                    "most pending codes held at once; beyond it send-otp answers STORE_FULL", 1);
    max_codes.env = "STORE_MEMORY_MAX_CODES";
    ConfigKey sweep_interval = integer_key(
        "sweep_interval_ms", "1000", "how often expired codes are removed, in milliseconds", 10);
    ConfigKey shards =
        integer_key("shards", "16", "independently locked partitions of the code map", 1, 1024);
    ConfigKey max_counters = integer_key(
        "max_counters", "1000000",
        "most rate-limit counters held; beyond it the ones closest to expiry are evicted", 1);

    return {testino::sdk::PluginKind::otp_store,
            "memory",
            "1.0.0",
            "in-process OTP store (single instance only; codes are lost on restart)",
            {max_codes, sweep_interval, shards, max_counters}};
}

std::unique_ptr<testino::sdk::OtpStore> create_memory_store(
    const testino::sdk::PluginContext& context) {
    const auto& config = context.config;
    testino::plugins::MemoryStoreOptions options;
    options.max_codes = static_cast<std::size_t>(config.get_int("max_codes"));
    options.sweep_interval = std::chrono::milliseconds(config.get_int("sweep_interval_ms"));
    options.shards = static_cast<std::size_t>(config.get_int("shards"));
    options.max_counters = static_cast<std::size_t>(config.get_int("max_counters"));
    return std::make_unique<testino::plugins::MemoryStore>(options);
}

}  // namespace

TESTINO_OTP_STORE_PLUGIN(memory_store_descriptor, create_memory_store)
