// Plugin glue for the `redis` OTP store: descriptor, config, factory, exports.
#include "testino/plugin.hpp"

#include <memory>

#include "redis_store.hpp"
#include "redis_url.hpp"

namespace {

using testino::sdk::ConfigError;
using testino::sdk::ConfigKey;

testino::sdk::PluginDescriptor redis_store_descriptor() {
    namespace sdk = testino::sdk;
    // url is secret because it may carry the password.
    const ConfigKey url = sdk::mark_secret(sdk::string_key(
        "url", "redis://127.0.0.1:6379/0",
        "redis://[[user]:password@]host[:port][/db], unix://[[user]:password@]/path/redis.sock[?db=N], "
        "redis-cluster://[[user]:password@]host:port[,host:port...] (seed nodes) or "
        "redis-sentinel://[[user]:password@]host:port[,host:port...]/master-name[/db] (the credentials are "
        "the data nodes')",
        "REDIS_URL"));
    // The sentinels' own credentials, when they require them (Sentinel's requirepass).
    const ConfigKey sentinel_username = sdk::string_key(
        "sentinel_username", "", "user name for AUTH to the sentinels (ACL); empty: default user",
        "REDIS_SENTINEL_USERNAME");
    const ConfigKey sentinel_password = sdk::mark_secret(
        sdk::string_key("sentinel_password", "", "password for AUTH to the sentinels; empty: no AUTH",
                        "REDIS_SENTINEL_PASSWORD"));
    const ConfigKey key_prefix =
        sdk::string_key("key_prefix", "testino:", "prefix of every Redis key; no '{' or '}'");
    // Since the store became asynchronous, commands from concurrent requests are pipelined
    // on a few connections: pool_size is their number, no longer one per waiting request.
    const ConfigKey pool_size = sdk::integer_key(
        "pool_size", "2", 1, 1024, "Redis connections per server process (commands are pipelined on them)");
    const ConfigKey connect_timeout = sdk::integer_key("connect_timeout_ms", "500", 1, 60000,
                                                       "time to open a connection to Redis, in milliseconds");
    const ConfigKey command_timeout =
        sdk::integer_key("command_timeout_ms", "500", 1, 60000,
                         "deadline of one store operation from its start (queueing, connecting, the Redis "
                         "round trips), in milliseconds");

    const ConfigKey wait_replicas = sdk::integer_key("wait_replicas", "0", 0, 16,
                                                     "a new code counts as stored once this many replicas "
                                                     "have it (Redis WAIT); 0: once the primary has it");
    const ConfigKey wait_timeout = sdk::integer_key(
        "wait_timeout_ms", "100", 1, 60000,
        "how long a send waits for wait_replicas, in milliseconds; below command_timeout_ms");

    const ConfigKey max_queue_items = sdk::integer_key(
        "max_queue_items", "100000", 1, 100000000,
        "items one queue (the webhook outbox, say) may hold; an enqueue beyond is refused (store full)");

    ConfigKey allow_eviction;
    allow_eviction.name = "allow_eviction";
    allow_eviction.type = sdk::ValueType::boolean;
    allow_eviction.default_value = "false";
    allow_eviction.description =
        "start although Redis has maxmemory with a policy other than noeviction, so it may evict codes "
        "and rate-limit counters (logged as a warning)";

    return {testino::sdk::PluginKind::otp_store,
            "redis",
            "1.0.0",
            "OTP store in Redis, shared by every server instance using the same Redis",
            {url, sentinel_username, sentinel_password, key_prefix, pool_size, connect_timeout,
             command_timeout, wait_replicas, wait_timeout, max_queue_items, allow_eviction},
            {}};  // channels: SMS providers only
}

std::unique_ptr<testino::sdk::OtpStore> create_redis_store(const testino::sdk::PluginContext& context) {
    const auto& config = context.config;
    testino::plugins::RedisStoreOptions options;
    try {
        options.client.endpoint = testino::plugins::parse_redis_url(config.get_string("url"));
    } catch (const testino::plugins::RedisUrlError& error) {
        // The message never repeats the URL: it may hold the password.
        throw ConfigError(config.where("url") + ": " + error.what());
    }
    // Empty by default: not set.
    const auto optional_string = [&config](const char* key) {
        return config.has(key) ? config.get_string(key) : std::string();
    };
    options.client.endpoint.sentinel_username = optional_string("sentinel_username");
    options.client.endpoint.sentinel_password = optional_string("sentinel_password");
    options.key_prefix = config.get_string("key_prefix");
    if (options.key_prefix.find_first_of("{}") != std::string::npos) {
        throw ConfigError(config.where("key_prefix") +
                          ": must not contain '{' or '}' (they would change the Redis Cluster hash tag)");
    }
    options.client.connections = static_cast<std::size_t>(config.get_int("pool_size"));
    options.client.connect_timeout = std::chrono::milliseconds(config.get_int("connect_timeout_ms"));
    options.client.command_timeout = std::chrono::milliseconds(config.get_int("command_timeout_ms"));
    options.allow_eviction = config.get_bool("allow_eviction");
    options.wait_replicas = static_cast<int>(config.get_int("wait_replicas"));
    options.wait_timeout = std::chrono::milliseconds(config.get_int("wait_timeout_ms"));
    options.max_queue_items = static_cast<std::size_t>(config.get_int("max_queue_items"));
    if (options.wait_replicas > 0 && options.wait_timeout >= options.client.command_timeout) {
        // WAIT runs inside the operation's deadline: a longer one would always time out.
        throw ConfigError(config.where("wait_timeout_ms") + ": must be below command_timeout_ms (" +
                          std::to_string(options.client.command_timeout.count()) + ")");
    }
    const std::string endpoint = options.client.endpoint.describe();
    auto store = std::make_unique<testino::plugins::RedisStore>(std::move(options), context.host);
    // Redis evicting our keys would silently drop codes and counters (a limit reset). A
    // Redis not reached now is checked when it is (then an error log and health down).
    const auto& eviction = store->eviction_at_start();
    if (eviction && eviction->verdict == testino::plugins::EvictionCheck::Verdict::unsafe &&
        !config.get_bool("allow_eviction")) {
        throw ConfigError(endpoint + ": " + eviction->detail);
    }
    return store;
}

}  // namespace

TESTINO_OTP_STORE_PLUGIN(redis_store_descriptor, create_redis_store)
