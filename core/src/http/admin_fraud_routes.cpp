#include "http/admin_fraud_routes.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cctype>

#include "observability/logging.hpp"

namespace testino {
namespace {

using namespace Pistache;

constexpr std::size_t kMaxPrefixDigits = 15;  // an E.164 number's most digits

// An authenticated answer: no cache keeps it.
Reply no_store(Reply reply) {
    reply.headers.emplace_back("Cache-Control", "no-store");
    return reply;
}

Reply unauthorized_reply(const std::string& message) {
    Reply reply = error_reply(make_error(ErrorCode::unauthorized, message));
    reply.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"testino-admin\"");
    return no_store(std::move(reply));
}

Reply method_not_allowed(const RequestContext& ctx, const char* allowed) {
    ApiError e = make_error(ErrorCode::method_not_allowed, ctx.method + " is not allowed on " + ctx.path);
    e.allow = {allowed};
    return error_reply(e);
}

// Pistache parses Authorization into its typed header when it knows it; read either.
std::optional<std::string> authorization_of(const Http::Request& request) {
    if (auto typed = request.headers().tryGet<Http::Header::Authorization>()) return typed->value();
    if (auto raw = request.headers().tryGetRaw("Authorization")) return raw->value();
    return std::nullopt;
}

bool valid_prefix(const std::string& prefix) {
    return !prefix.empty() && prefix.size() <= kMaxPrefixDigits &&
           std::all_of(prefix.begin(), prefix.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

std::string blocks_body(const std::vector<FraudBlock>& blocks) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.StartObject();
    w.Key("blocks");
    w.StartArray();
    for (const FraudBlock& b : blocks) {
        w.StartObject();
        w.Key("prefix");
        w.String(b.prefix.c_str(), static_cast<rapidjson::SizeType>(b.prefix.size()));
        w.Key("remaining_seconds");
        w.Int64(b.remaining.count());
        w.Key("shadow");
        w.Bool(b.shadow);
        w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    return {buffer.GetString(), buffer.GetSize()};
}

std::string lifted_body(const std::string& prefix) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.StartObject();
    w.Key("lifted");
    w.Bool(true);
    w.Key("prefix");
    w.String(prefix.c_str(), static_cast<rapidjson::SizeType>(prefix.size()));
    w.EndObject();
    return {buffer.GetString(), buffer.GetSize()};
}

}  // namespace

bool is_fraud_admin_path(const std::string& path) {
    const std::string_view base = kFraudBlocksPath;
    return path.compare(0, base.size(), base) == 0 &&
           (path.size() == base.size() || path[base.size()] == '/');
}

bool bearer_matches(const std::optional<std::string>& authorization, const std::string& admin_token) {
    if (!authorization || admin_token.empty()) return false;
    // RFC 7235: the scheme is case-insensitive, then one or more spaces, then the token.
    const std::string& value = *authorization;
    const std::string scheme = "bearer";
    if (value.size() <= scheme.size() || value[scheme.size()] != ' ') return false;
    for (std::size_t i = 0; i < scheme.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(value[i])) != scheme[i]) return false;
    }
    const std::size_t start = value.find_first_not_of(' ', scheme.size());
    if (start == std::string::npos) return false;
    std::string token = value.substr(start);
    while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.pop_back();
    unsigned char given[SHA256_DIGEST_LENGTH];
    unsigned char expected[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), given);
    SHA256(reinterpret_cast<const unsigned char*>(admin_token.data()), admin_token.size(), expected);
    return CRYPTO_memcmp(given, expected, sizeof given) == 0;
}

FraudAdminParse parse_fraud_admin(const Http::Request& request, const RequestContext& ctx,
                                  const std::string& admin_token) {
    const bool collection = ctx.path == kFraudBlocksPath;
    const Http::Method wanted = collection ? Http::Method::Get : Http::Method::Delete;
    if (request.method() != wanted)
        return {std::nullopt, method_not_allowed(ctx, collection ? "GET" : "DELETE")};

    const auto authorization = authorization_of(request);
    if (!bearer_matches(authorization, admin_token)) {
        // Who tried, never what they sent.
        log_warn("admin.unauthorized",
                 {{"request_id", ctx.request_id},
                  {"client_ip", ctx.client_ip},
                  {"path", printable(ctx.path)},
                  {"reason", authorization ? "wrong token" : "no Authorization header"}});
        return {std::nullopt, unauthorized_reply(authorization ? "The admin token is not valid"
                                                               : "This route needs Authorization: Bearer "
                                                                 "<server.admin_token>")};
    }
    if (collection) return {FraudAdminRequest{FraudAdminRequest::Action::list, ""}, {}};

    std::string prefix = ctx.path.substr(std::string_view(kFraudBlocksPath).size() + 1);
    if (!valid_prefix(prefix)) {
        return {std::nullopt,
                no_store(error_reply(validation_error(
                    "prefix", "A prefix is 1 to 15 digits of an E.164 number without '+', like 447400")))};
    }
    return {FraudAdminRequest{FraudAdminRequest::Action::lift, std::move(prefix)}, {}};
}

void run_fraud_admin(const FraudAdminRequest& request, FraudGuard& guard, const RequestContext& ctx,
                     FlowDone<Reply> done) {
    if (request.action == FraudAdminRequest::Action::list) {
        return guard.list_blocks([done = std::move(done)](std::vector<FraudBlock> blocks) {
            done(no_store(json_reply(200, blocks_body(blocks))));
        });
    }
    guard.lift(request.prefix, [done = std::move(done), prefix = request.prefix, request_id = ctx.request_id,
                                client_ip = ctx.client_ip](Expected<bool> lifted) {
        if (!lifted) return done(lifted.error());
        if (!lifted.value()) {
            return done(make_error(ErrorCode::not_found, "No fraud-guard block on prefix " + prefix));
        }
        log_info("admin.fraud_block_lifted",
                 {{"request_id", request_id}, {"prefix", prefix}, {"client_ip", client_ip}});
        done(no_store(json_reply(200, lifted_body(prefix))));
    });
}

}  // namespace testino
