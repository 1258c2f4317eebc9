// Plugin glue for the `memory` OTP store: descriptor, config, factory, exports.
#include "testino/plugin.hpp"

#include <memory>

#include "memory_store.hpp"

namespace {

using testino::sdk::ConfigKey;

testino::sdk::PluginDescriptor memory_store_descriptor() {
    using testino::sdk::integer_key;
    ConfigKey max_codes =
        integer_key("max_codes", "1000000", 1, INT64_MAX,
                    "most pending codes held at once; beyond it send-otp answers STORE_FULL");
    max_codes.env = "STORE_MEMORY_MAX_CODES";
    const ConfigKey sweep_interval = integer_key("sweep_interval_ms", "1000", 10, INT64_MAX,
                                                 "how often expired codes are removed, in milliseconds");
    const ConfigKey shards =
        integer_key("shards", "16", 1, 1024, "independently locked partitions of the code map");
    const ConfigKey max_counters =
        integer_key("max_counters", "1000000", 1, INT64_MAX,
                    "most rate-limit counters held; a live one is never evicted: beyond it (none expired) "
                    "requests answer STORE_FULL");
    const ConfigKey max_refresh_families =
        integer_key("max_refresh_families", "1000000", 1, INT64_MAX,
                    "most refresh-token families (signed-in sessions) held; a live one is never evicted: "
                    "beyond it (none expired) a new sign-in gets no refresh token");
    const ConfigKey max_records =
        integer_key("max_records", "1000000", 1, INT64_MAX,
                    "most idempotency keys and delivery-receipt lookups held; beyond it (none expired) "
                    "they are refused");
    const ConfigKey max_queue_items =
        integer_key("max_queue_items", "100000", 1, INT64_MAX,
                    "most webhook deliveries waiting (their outbox); beyond it new "
                    "events are dropped and counted");

    return {
        testino::sdk::PluginKind::otp_store,
        "memory",
        "1.0.0",
        "in-process OTP store (single instance only; codes are lost on restart)",
        {max_codes, sweep_interval, shards, max_counters, max_refresh_families, max_records, max_queue_items},
        {}};  // channels: SMS providers only
}

std::unique_ptr<testino::sdk::OtpStore> create_memory_store(const testino::sdk::PluginContext& context) {
    const auto& config = context.config;
    testino::plugins::MemoryStoreOptions options;
    options.max_codes = static_cast<std::size_t>(config.get_int("max_codes"));
    options.sweep_interval = std::chrono::milliseconds(config.get_int("sweep_interval_ms"));
    options.shards = static_cast<std::size_t>(config.get_int("shards"));
    options.max_counters = static_cast<std::size_t>(config.get_int("max_counters"));
    options.max_refresh_families = static_cast<std::size_t>(config.get_int("max_refresh_families"));
    options.max_records = static_cast<std::size_t>(config.get_int("max_records"));
    options.max_queue_items = static_cast<std::size_t>(config.get_int("max_queue_items"));
    return std::make_unique<testino::plugins::MemoryStore>(options);
}

}  // namespace

TESTINO_OTP_STORE_PLUGIN(memory_store_descriptor, create_memory_store)
