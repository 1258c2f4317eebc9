#include "app/session_flow.hpp"

#include "domain/refresh_token.hpp"
#include "observability/logging.hpp"

namespace testino {
namespace {

using namespace flow_detail;

constexpr const char* kTooManyRefreshes = "Too many token requests; try again later";
constexpr const char* kSignInAgain = "Invalid, expired or revoked refresh token; sign in again";

ApiError refresh_error(const sdk::RefreshResult& result) {
    switch (result.outcome) {
        case sdk::RefreshOutcome::reused:
            return make_error(ErrorCode::refresh_token_reused,
                              "This refresh token was already used, so its sign-in is revoked "
                              "(a stolen token cannot outlive its owner's next refresh); sign in again");
        case sdk::RefreshOutcome::raced:
            return make_error(ErrorCode::refresh_token_raced,
                              "Another request refreshed this token a moment ago; use the refresh token it "
                              "returned");
        case sdk::RefreshOutcome::unavailable:
            return store_error({sdk::StoreStatus::unavailable, result.detail});
        default: return make_error(ErrorCode::invalid_refresh_token, kSignInAgain);
    }
}

}  // namespace

struct SessionFlow::RefreshJob : FlowJob<TokenPair> {
    RefreshRequest request;
    RefreshToken presented;
    RefreshToken next;
};

struct SessionFlow::LogoutJob : FlowJob<SignedOut> {
    RefreshRequest request;
};

SessionFlow::SessionFlow(const TokenConfig& token, const LimitsConfig& limits, MeteredStore& store,
                         RateLimits& rate_limits)
    : config_(token),
      limits_(limits),
      tokens_(token.keys, token.signing_key, TokenClaimsConfig{token.issuer, token.audience, token.ttl}),
      store_(store),
      rate_limits_(rate_limits) {}

void SessionFlow::start(const std::string& subject, const std::string& request_id, FlowDone<TokenPair> done) {
    Expected<IssuedToken> access = tokens_.issue(subject);
    if (!access) return done(access.error());
    TokenPair pair{access.value(), "", {}};
    if (!refresh_enabled()) return done(std::move(pair));
    RefreshToken first = new_refresh_token(new_refresh_family());
    sdk::NewRefreshFamily family{first.digest, subject, config_.refresh_ttl, config_.refresh_max_age};
    store_.create_refresh(
        first.family, family,
        [pair = std::move(pair), text = std::move(first.text), request_id, ttl = config_.refresh_ttl,
         done = std::move(done)](sdk::StoreResult result) mutable {
            if (result.status == sdk::StoreStatus::ok) {
                pair.refresh_token = std::move(text);
                pair.refresh_expires_in = ttl;
            } else {
                log_error("session.refresh_not_stored",
                          {{"request_id", request_id},
                           {"detail", result.detail},
                           {"effect", "signed in with an access token only; no refresh token"}});
            }
            done(std::move(pair));
        });
}

std::vector<LimitCheck> SessionFlow::address_checks(const RequestInfo& info) const {
    return per_address(info, "refresh", limits_.ip_refreshes, limits_.ip_window, metrics::Limit::ip_refreshes,
                       kTooManyRefreshes);
}

void SessionFlow::refresh(const RefreshRequest& request, RequestInfo info, FlowDone<TokenPair> done) {
    auto job = start_job<RefreshJob>(request, std::move(info), std::move(done));
    rate_limits_.charge(
        address_checks(job->info), job->info.request_id, guarded(job, [this, job](LimitVerdict v) {
            if (v.refusal) return job->answer(*v.refusal);
            std::optional<RefreshToken> presented = parse_refresh_token(job->request.refresh_token);
            if (!presented || !refresh_enabled()) {
                return job->answer(make_error(ErrorCode::invalid_refresh_token, kSignInAgain));
            }
            job->presented = std::move(*presented);
            rotate(job);
        }));
}

void SessionFlow::rotate(std::shared_ptr<RefreshJob> job) {
    job->next = new_refresh_token(job->presented.family);
    store_.rotate_refresh(job->presented.family, job->presented.digest, job->next.digest, config_.refresh_ttl,
                          config_.refresh_reuse_grace, guarded(job, [this, job](sdk::RefreshResult result) {
                              finish_refresh(job, result);
                          }));
}

void SessionFlow::finish_refresh(std::shared_ptr<RefreshJob> job, const sdk::RefreshResult& result) {
    if (result.outcome == sdk::RefreshOutcome::reused) {
        // Someone holds a token that was already exchanged: the owner or a thief. Which one
        // is unknowable, so the whole sign-in ends (RFC 9700 section 4.14.2).
        log_warn("session.refresh_reused", {{"request_id", job->info.request_id},
                                            {"client_ip", job->info.client_ip},
                                            {"session", job->presented.family},
                                            {"effect", "the sign-in is revoked"}});
    } else if (result.outcome == sdk::RefreshOutcome::unavailable) {
        log_error("store.refresh_failed", {{"request_id", job->info.request_id}, {"detail", result.detail}});
    }
    if (result.outcome != sdk::RefreshOutcome::rotated) return job->answer(refresh_error(result));
    Expected<IssuedToken> access = tokens_.issue(result.subject);
    if (!access) return job->answer(access.error());
    // At the sign-in's max age the store rotates to a token that is already over: the client
    // gets its last access token, and no refresh token to try.
    if (result.expires_in.count() <= 0) return job->answer(TokenPair{access.value(), "", {}});
    job->answer(TokenPair{access.value(), std::move(job->next.text), result.expires_in});
}

void SessionFlow::logout(const RefreshRequest& request, RequestInfo info, FlowDone<SignedOut> done) {
    auto job = start_job<LogoutJob>(request, std::move(info), std::move(done));
    rate_limits_.charge(
        address_checks(job->info), job->info.request_id, guarded(job, [this, job](LimitVerdict v) {
            if (v.refusal) return job->answer(*v.refusal);
            std::optional<RefreshToken> presented = parse_refresh_token(job->request.refresh_token);
            if (!presented) return job->answer(SignedOut{});
            store_.revoke_refresh(
                presented->family, presented->digest,
                guarded(job, [job, family = presented->family](sdk::RefreshResult r) {
                    if (r.outcome == sdk::RefreshOutcome::unavailable) {
                        log_error("store.refresh_failed",
                                  {{"request_id", job->info.request_id}, {"detail", r.detail}});
                        return job->answer(refresh_error(r));
                    }
                    if (r.outcome == sdk::RefreshOutcome::revoked) {
                        log_info("session.signed_out",
                                 {{"request_id", job->info.request_id}, {"session", family}});
                    }
                    job->answer(SignedOut{});
                }));
        }));
}

}  // namespace testino
