// Plugin glue for the `postgres` OTP store: descriptor, config, factory, exports.
#include "testino/plugin.hpp"

#include <memory>

#include "pg_dsn.hpp"
#include "pg_store.hpp"

namespace {

using testino::sdk::ConfigError;
using testino::sdk::ConfigKey;

testino::sdk::PluginDescriptor postgres_store_descriptor() {
    namespace sdk = testino::sdk;
    using sdk::integer_key;
    // Secret and without a default: it usually holds the password.
    const ConfigKey dsn = sdk::mark_required(sdk::mark_secret(sdk::string_key(
        "dsn", "",
        "libpq connection string (\"host=... port=... dbname=... user=... password=...\") or URI "
        "(postgresql://user:password@host:port/dbname?sslmode=...)",
        "POSTGRES_DSN")));
    const ConfigKey sslmode = sdk::string_key(
        "sslmode", "",
        "passed to libpq, overriding the DSN's: disable, allow, prefer, require, verify-ca or verify-full; "
        "empty: the DSN's (libpq's default: prefer)",
        "POSTGRES_SSLMODE");
    const ConfigKey pool_size = integer_key(
        "pool_size", "8", 1, 256, "connections per server process, each with its own worker thread");
    const ConfigKey queue_size = integer_key(
        "queue_size", "1024", 1, 1000000,
        "operations that may wait for a free connection; beyond it they fail at once (STORE_UNAVAILABLE)");
    const ConfigKey connect_timeout = integer_key("connect_timeout_ms", "500", 1, 60000,
                                                  "time to open a connection to Postgres, in milliseconds");
    const ConfigKey query_timeout = integer_key("query_timeout_ms", "1000", 1, 60000,
                                                "deadline of one store operation from its start (queueing, "
                                                "connecting, the statement), in milliseconds; "
                                                "also the sessions' statement_timeout");
    const ConfigKey migrate_timeout = integer_key(
        "migrate_timeout_ms", "30000", 100, 600000,
        "how long applying the schema migrations may take, waiting for another instance's included");
    const ConfigKey sweep_interval =
        integer_key("sweep_interval_ms", "10000", 0, 86400000,
                    "how often expired rows are deleted, in milliseconds; 0: never");
    const ConfigKey sweep_batch =
        integer_key("sweep_batch_size", "1000", 1, 100000, "most expired rows one sweeper statement deletes");
    const ConfigKey sweep_batches =
        integer_key("sweep_max_batches", "10", 1, 1000, "most batches per table in one sweeper pass");
    const ConfigKey max_queue_items =
        integer_key("max_queue_items", "100000", 1, 100000000,
                    "items one queue (such as the webhook outbox) may hold; beyond it a new item is refused "
                    "(STORE_FULL)");

    return {sdk::PluginKind::otp_store,
            "postgres",
            "1.0.0",
            "OTP store in PostgreSQL, shared by every server instance using the same database",
            {dsn, sslmode, pool_size, queue_size, connect_timeout, query_timeout, migrate_timeout,
             sweep_interval, sweep_batch, sweep_batches, max_queue_items},
            {}};  // channels: SMS providers only
}

std::unique_ptr<testino::sdk::OtpStore> create_postgres_store(const testino::sdk::PluginContext& context) {
    const auto& config = context.config;
    testino::plugins::PgStoreOptions options;
    options.pool.dsn = config.get_string("dsn");
    options.pool.sslmode = config.has("sslmode") ? config.get_string("sslmode") : std::string();
    try {
        testino::plugins::check_dsn(options.pool.dsn);
    } catch (const testino::plugins::PgDsnError& error) {
        // The message never repeats the DSN: it may hold the password.
        throw ConfigError(config.where("dsn") + ": " + error.what());
    }
    try {
        testino::plugins::check_sslmode(options.pool.sslmode);
    } catch (const testino::plugins::PgDsnError& error) {
        throw ConfigError(config.where("sslmode") + ": " + error.what());
    }
    options.pool.size = static_cast<std::size_t>(config.get_int("pool_size"));
    options.pool.queue_capacity = static_cast<std::size_t>(config.get_int("queue_size"));
    options.pool.connect_timeout = std::chrono::milliseconds(config.get_int("connect_timeout_ms"));
    options.query_timeout = std::chrono::milliseconds(config.get_int("query_timeout_ms"));
    options.migrate_timeout = std::chrono::milliseconds(config.get_int("migrate_timeout_ms"));
    options.sweep_interval = std::chrono::milliseconds(config.get_int("sweep_interval_ms"));
    options.sweep_batch = static_cast<int>(config.get_int("sweep_batch_size"));
    options.sweep_max_batches = static_cast<int>(config.get_int("sweep_max_batches"));
    options.max_queue_items = config.get_int("max_queue_items");
    try {
        return std::make_unique<testino::plugins::PgStore>(std::move(options), context.host);
    } catch (const testino::plugins::PgStartError& error) {
        throw ConfigError(error.what());
    }
}

}  // namespace

TESTINO_OTP_STORE_PLUGIN(postgres_store_descriptor, create_postgres_store)
