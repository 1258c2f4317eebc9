#include "pg_dsn.hpp"

#include <libpq-fe.h>

#include <array>
#include <map>
#include <memory>

namespace testino::plugins {
namespace {

// The parsed options, keyword to value (unset ones left out).
std::map<std::string, std::string> parse(const std::string& dsn) {
    char* error = nullptr;
    PQconninfoOption* options = PQconninfoParse(dsn.c_str(), &error);
    if (!options) {
        // libpq's message may quote a part of the DSN, which may be the password: not shown.
        if (error) PQfreemem(error);
        throw PgDsnError("not a libpq connection string (key=value ...) or postgresql:// URI");
    }
    std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> owned(options, &PQconninfoFree);
    std::map<std::string, std::string> values;
    for (const PQconninfoOption* option = options; option->keyword; ++option) {
        if (option->val && *option->val) values[option->keyword] = option->val;
    }
    return values;
}

std::string value_or(const std::map<std::string, std::string>& values, const char* key,
                     std::string fallback) {
    const auto found = values.find(key);
    return found == values.end() ? fallback : found->second;
}

}  // namespace

void check_dsn(const std::string& dsn) { parse(dsn); }

std::string describe_dsn(const std::string& dsn) {
    const auto values = parse(dsn);
    const std::string host = value_or(values, "host", value_or(values, "hostaddr", "(default socket)"));
    const std::string port = value_or(values, "port", "5432");
    const std::string user = value_or(values, "user", "");
    const std::string db = value_or(values, "dbname", user.empty() ? "(default)" : user);
    return (user.empty() ? "" : user + "@") + host + ":" + port + "/" + db;
}

void check_sslmode(const std::string& sslmode) {
    static const std::array<const char*, 6> modes{"disable", "allow",     "prefer",
                                                  "require", "verify-ca", "verify-full"};
    if (sslmode.empty()) return;
    for (const char* mode : modes) {
        if (sslmode == mode) return;
    }
    throw PgDsnError("'" + sslmode + "' is none of disable, allow, prefer, require, verify-ca, verify-full");
}

}  // namespace testino::plugins
