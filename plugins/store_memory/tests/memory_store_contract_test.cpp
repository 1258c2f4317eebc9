// The memory store against the contract every OTP store must pass.
#include "memory_store.hpp"
#include "otp_store_contract.hpp"

namespace {

std::shared_ptr<testino::sdk::OtpStore> make_memory_store() {
    testino::plugins::MemoryStoreOptions options;
    options.max_codes = 100000;
    options.sweep_interval = std::chrono::milliseconds(50);
    return std::make_shared<testino::plugins::MemoryStore>(options);
}

}  // namespace

using testino::contract::OtpStoreContract;

INSTANTIATE_TEST_SUITE_P(Memory, OtpStoreContract,
                         ::testing::Values(testino::contract::OtpStoreFactory(make_memory_store)));
