// The store under test against the OTP store contract the built-in stores pass
// (tests/contract), concurrency cases included: each case gets a fresh store from the
// plugin's factory.
#include "otp_store_contract.hpp"
#include "plugin_under_test.hpp"

namespace testino::plugin_check {
namespace {

std::shared_ptr<sdk::OtpStore> make_store_under_test() {
    // The host must outlive the store; stores live no longer than one test, the host
    // lives as long as the program.
    static test_support::RecordingHost host;
    return plugin().make_store(host);
}

}  // namespace
}  // namespace testino::plugin_check

using testino::contract::OtpStoreContract;

INSTANTIATE_TEST_SUITE_P(
    Plugin, OtpStoreContract,
    ::testing::Values(testino::contract::OtpStoreFactory(testino::plugin_check::make_store_under_test)));
