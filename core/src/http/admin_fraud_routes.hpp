// The admin listener's fraud-guard routes (limits.fraud_guard.admin_api), behind the bearer
// token server.admin_token:
//   GET    /fraud-guard/blocks           the live blocks
//   DELETE /fraud-guard/blocks/<prefix>  lifts one
// Internal to core/src/http; AdminHandler routes to them.
#pragma once

#include <optional>
#include <string>

#include <pistache/http.h>

#include "app/flow_job.hpp"
#include "app/fraud_guard.hpp"
#include "http/http_reply.hpp"

namespace testino {

inline constexpr const char* kFraudBlocksPath = "/fraud-guard/blocks";

// What a request to these routes asks for, once its method and token are checked.
struct FraudAdminRequest {
    enum class Action { list, lift } action = Action::list;
    std::string prefix;  // for lift
};

// True when `path` is one of these routes: /fraud-guard/blocks or /fraud-guard/blocks/<x>.
bool is_fraud_admin_path(const std::string& path);

// The request's action, or the reply that refuses it: 405 for a method the path does not
// take, 401 (with WWW-Authenticate) for a missing or wrong token, 422 for a prefix that is
// not 1-15 digits. `admin_token` is server.admin_token, never empty when the routes are on.
struct FraudAdminParse {
    std::optional<FraudAdminRequest> request;
    Reply refusal;
};
FraudAdminParse parse_fraud_admin(const Pistache::Http::Request& request, const RequestContext& ctx,
                                  const std::string& admin_token);

// Runs the action on the guard and answers with the reply to send (200, or 404 when there
// was no block to lift). Lifting logs admin.fraud_block_lifted.
void run_fraud_admin(const FraudAdminRequest& request, FraudGuard& guard, const RequestContext& ctx,
                     FlowDone<Reply> done);

// The Authorization header holds `Bearer <admin_token>`; compared in constant time (both
// sides hashed first, so neither the content nor the length shows in the timing).
bool bearer_matches(const std::optional<std::string>& authorization, const std::string& admin_token);

}  // namespace testino
