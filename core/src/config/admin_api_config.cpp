// The admin API's start-up checks: routes that change what the server does
// (limits.fraud_guard.admin_api) need server.admin_token and an admin listener to serve them.
#include <algorithm>
#include <cctype>

#include "config/app_config_parts.hpp"

namespace testino::config_detail {
namespace {

constexpr std::size_t kMinAdminTokenBytes = 32;

// RFC 6750 section 2.1 b64token: what an Authorization: Bearer header can carry.
bool is_b64token(const std::string& token) {
    const std::size_t end = token.find_last_not_of('=');
    if (end == std::string::npos) return false;
    return std::all_of(
        token.begin(), token.begin() + static_cast<std::ptrdiff_t>(end + 1), [](unsigned char c) {
            return std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
        });
}

}  // namespace

void check_admin_token(const ConfigSection& server, const std::string& token) {
    if (token.empty()) return;
    // The value is a secret: the messages name the key, never what it holds.
    if (token.size() < kMinAdminTokenBytes) {
        throw StartupError(server.where("admin_token") + ": must be at least " +
                           std::to_string(kMinAdminTokenBytes) +
                           " bytes long; generate one with `openssl rand -hex 32`");
    }
    if (!is_b64token(token)) {
        throw StartupError(
            server.where("admin_token") +
            ": may hold only letters, digits and - . _ ~ + / (then = padding), as an "
            "Authorization: Bearer header carries it; generate one with `openssl rand -hex 32`");
    }
}

void check_admin_api(const AppConfig& config) {
    if (!config.limits.fraud_guard.admin_api) return;
    const std::string where = config.file + ": limits.fraud_guard.admin_api is true";
    if (config.server.admin_token.empty()) {
        throw StartupError(where +
                           ", which needs server.admin_token (env ADMIN_TOKEN): a secret of at least 32 "
                           "bytes the admin routes expect as Authorization: Bearer <token>; set one, or "
                           "set limits.fraud_guard.admin_api: false");
    }
    if (config.server.admin_port == 0) {
        throw StartupError(where +
                           ", but server.admin_port is 0 (the admin listener is off), so nothing would serve "
                           "the /fraud-guard routes; give server.admin_port a port, or set "
                           "limits.fraud_guard.admin_api: false");
    }
}

}  // namespace testino::config_detail
