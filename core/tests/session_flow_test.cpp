// Sign-ins in the application layer: verify starts one, refresh rotates its token, reuse
// revokes it, logout ends it; and what a store that cannot keep sign-ins costs the client.
#include "otp_flow_fixture.hpp"

namespace testino {
namespace {

using namespace flow_test;

// The memory store, but every refresh-family operation fails, as a store that lost its backend
// between the code and the sign-in.
class RefreshlessStore final : public ForwardingStore {
public:
    using ForwardingStore::ForwardingStore;
    void create_refresh(const std::string&, const sdk::NewRefreshFamily&,
                        sdk::StoreCompletion<sdk::StoreResult> done) override {
        done({sdk::StoreStatus::unavailable, "scripted: no room for sign-ins"});
    }
    void rotate_refresh(const std::string&, const sdk::RefreshDigest&, const sdk::RefreshDigest&,
                        std::chrono::seconds, std::chrono::seconds,
                        sdk::StoreCompletion<sdk::RefreshResult> done) override {
        done({sdk::RefreshOutcome::unavailable, "", {}, "scripted: backend gone"});
    }
    void revoke_refresh(const std::string&, const sdk::RefreshDigest&,
                        sdk::StoreCompletion<sdk::RefreshResult> done) override {
        done({sdk::RefreshOutcome::unavailable, "", {}, "scripted: backend gone"});
    }
};

class SessionFlowTest : public OtpFlowTest {
protected:
    Expected<TokenPair> refresh(const std::string& token) {
        return await_flow<TokenPair>([&](FlowDone<TokenPair> done) {
            flow->sessions().refresh({token}, {"r", "10.0.0.1", "10.0.0.1", nullptr}, std::move(done));
        });
    }
    Expected<SignedOut> logout(const std::string& token) {
        return await_flow<SignedOut>([&](FlowDone<SignedOut> done) {
            flow->sessions().logout({token}, {"r", "10.0.0.1", "10.0.0.1", nullptr}, std::move(done));
        });
    }
    static std::string error_of(const Expected<TokenPair>& r) {
        return r ? "ok" : error_info(r.error().code).machine_code;
    }
};

TEST_F(SessionFlowTest, ARefreshRotatesAndAReuseRevokesTheSignIn) {
    const auto login = verify(send());
    ASSERT_TRUE(login.ok());
    const std::string first = login->tokens.refresh_token;
    ASSERT_EQ(first.size(), 66u);
    EXPECT_EQ(login->tokens.refresh_expires_in, std::chrono::seconds(30 * 86400));

    const auto rotated = refresh(first);
    ASSERT_TRUE(rotated.ok());
    EXPECT_NE(rotated->refresh_token, first);
    EXPECT_FALSE(rotated->access.jwt.empty());
    EXPECT_EQ(error_of(refresh(first)), "REFRESH_TOKEN_REUSED");
    EXPECT_EQ(error_of(refresh(rotated->refresh_token)), "INVALID_REFRESH_TOKEN");
}

TEST_F(SessionFlowTest, WorksOnAStoreThatAnswersFromItsOwnThread) {
    make_flow(300s, 5, no_limits(), {},
              std::make_shared<DeferredStore>(
                  memory_plugin().create_otp_store(sdk::PluginContext{store_config, host})));
    const auto login = verify(send());
    ASSERT_TRUE(login.ok());
    const auto rotated = refresh(login->tokens.refresh_token);
    ASSERT_TRUE(rotated.ok());
    EXPECT_TRUE(logout(rotated->refresh_token).ok());
    EXPECT_EQ(error_of(refresh(rotated->refresh_token)), "INVALID_REFRESH_TOKEN");
}

// The code is already consumed when the sign-in is stored: failing the verify would cost the
// user a new SMS, so the sign-in gets its access token and no refresh token.
TEST_F(SessionFlowTest, AStoreThatCannotKeepTheSignInStillGivesTheAccessToken) {
    make_flow(300s, 5, no_limits(), {},
              std::make_shared<RefreshlessStore>(
                  memory_plugin().create_otp_store(sdk::PluginContext{store_config, host})));
    const auto login = verify(send());
    ASSERT_TRUE(login.ok());
    EXPECT_FALSE(login->tokens.access.jwt.empty());
    EXPECT_TRUE(login->tokens.refresh_token.empty());
}

TEST_F(SessionFlowTest, AStoreThatFailsAnswersStoreUnavailable) {
    make_flow(300s, 5, no_limits(), {},
              std::make_shared<RefreshlessStore>(
                  memory_plugin().create_otp_store(sdk::PluginContext{store_config, host})));
    const std::string token = std::string(22, 'a') + "." + std::string(43, 'b');
    EXPECT_EQ(error_of(refresh(token)), "STORE_UNAVAILABLE");
    const auto out = logout(token);
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.error().code, ErrorCode::store_unavailable);
}

}  // namespace
}  // namespace testino
