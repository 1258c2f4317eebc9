// The Postgres store against the contract every OTP store must pass (the memory and Redis
// stores run the same suite), on one private PostgreSQL server for the whole program. One
// process (add_test, not gtest_discover_tests), so the server starts once.
#include <cstdio>
#include <memory>

#include "otp_store_contract.hpp"
#include "pg_test_support.hpp"
#include "plugin_doubles.hpp"
#include "postgres_server.hpp"

namespace {

using namespace std::chrono_literals;

std::shared_ptr<testino::sdk::OtpStore> make_postgres_store() {
    // Started on first use, killed at exit; each store gets fresh connections.
    static testino::test::PostgresServer postgres;
    static testino::test_support::RecordingHost host;
    // Generous: a hundred threads share the pool on a loaded CI machine.
    auto options = testino::plugins::pg_test::store_options(postgres.dsn(), 5000ms, 4);
    return std::make_shared<testino::plugins::PgStore>(std::move(options), host);
}

}  // namespace

using testino::contract::OtpStoreContract;

INSTANTIATE_TEST_SUITE_P(Postgres, OtpStoreContract,
                         ::testing::Values(testino::contract::OtpStoreFactory(make_postgres_store)));

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    if (!testino::test::PostgresServer::bin_dir()) {
        // Only when the binaries are absent (scripts/setup.sh installs them, so CI has them);
        // ctest reports 77 as skipped (SKIP_RETURN_CODE).
        std::printf(
            "SKIPPED: PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin "
            "(install Debian's postgresql: scripts/setup.sh)\n");
        return 77;
    }
    return RUN_ALL_TESTS();
}
