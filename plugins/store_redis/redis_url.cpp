#include "redis_url.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <climits>

namespace testino::plugins {
namespace {

constexpr const char* kForms =
    "expected redis://[[user]:password@]host[:port][/db], "
    "unix://[[user]:password@]/path/to/redis.sock[?db=N], "
    "redis-cluster://[[user]:password@]host:port[,host:port...] or "
    "redis-sentinel://[[user]:password@]host:port[,host:port...]/master-name[/db]";

[[noreturn]] void fail(const std::string& what) { throw RedisUrlError(what + " (" + kForms + ")"); }

bool starts_with(const std::string& text, const char* prefix) { return text.rfind(prefix, 0) == 0; }

bool all_digits(const std::string& text) {
    if (text.empty()) return false;
    for (const char c : text) {
        if (c < '0' || c > '9') return false;
    }
    return true;
}

// A non-negative decimal without sign or spaces, at most `max`.
bool parse_number(const std::string& text, long long max, long long& out) {
    if (!all_digits(text)) return false;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
    return error == std::errc() && end == text.data() + text.size() && out <= max;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Percent-decodes user or password; `what` names the part in the error.
std::string percent_decode(const std::string& text, const char* what) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '%') {
            const int high = i + 1 < text.size() ? hex_value(text[i + 1]) : -1;
            const int low = i + 2 < text.size() ? hex_value(text[i + 2]) : -1;
            if (high < 0 || low < 0) fail(std::string("bad percent-escape in the ") + what);
            out.push_back(static_cast<char>(high * 16 + low));
            i += 2;
        } else if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7F) {
            fail(std::string("space or control character in the ") + what);
        } else {
            out.push_back(c);
        }
    }
    return out;
}

// Reads "[user]:password" (the text before the '@' at `at`) into the endpoint and returns
// what follows the '@'.
std::string take_userinfo(const std::string& text, std::size_t at, RedisEndpoint& endpoint) {
    const std::string userinfo = text.substr(0, at);
    const auto colon = userinfo.find(':');
    if (colon == std::string::npos) {
        fail("credentials must be written [user]:password@ (a password is required)");
    }
    endpoint.username = percent_decode(userinfo.substr(0, colon), "user name");
    endpoint.password = percent_decode(userinfo.substr(colon + 1), "password");
    if (endpoint.password.empty()) fail("the password after ':' is empty");
    return text.substr(at + 1);
}

bool valid_hostname(const std::string& host) {
    if (host.empty() || host.size() > 253) return false;
    for (const char c : host) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_') {
            return false;
        }
    }
    return host.front() != '-' && host.front() != '.';
}

bool valid_ipv6(const std::string& host) {
    if (host.empty()) return false;
    for (const char c : host) {
        if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') return false;
    }
    return host.find(':') != std::string::npos;
}

void parse_db(const std::string& text, RedisEndpoint& endpoint) {
    if (!parse_number(text, INT_MAX, endpoint.db)) {
        fail("the database index must be a number 0.." + std::to_string(INT_MAX));
    }
}

// "host[:port]" or "[ipv6][:port]"; `port` keeps its value when none is written.
void parse_host_port(const std::string& hostport, std::string& host, int& port) {
    std::string port_text;
    if (!hostport.empty() && hostport.front() == '[') {
        const auto close = hostport.find(']');
        if (close == std::string::npos) fail("unclosed '[' in the IPv6 address");
        host = hostport.substr(1, close - 1);
        if (!valid_ipv6(host)) fail("not an IPv6 address between '[' and ']'");
        const std::string after = hostport.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') fail("unexpected text after the IPv6 address");
            port_text = after.substr(1);
            if (port_text.empty()) fail("empty port after ':'");
        }
    } else {
        const auto colon = hostport.find(':');
        host = hostport.substr(0, colon);
        if (colon != std::string::npos) {
            port_text = hostport.substr(colon + 1);
            if (port_text.empty()) fail("empty port after ':'");
        }
        if (host.empty()) fail("the host is missing");
        if (!valid_hostname(host)) fail("the host is not a host name or IPv4 address");
    }
    if (!port_text.empty()) {
        long long number = 0;
        if (!parse_number(port_text, 65535, number) || number == 0) fail("the port must be 1..65535");
        port = static_cast<int>(number);
    }
}

// "h[:p],h[:p],..." as seeds, each with `default_port` unless it names one.
std::vector<RedisHostPort> parse_host_list(const std::string& list, int default_port) {
    std::vector<RedisHostPort> nodes;
    std::size_t start = 0;
    while (true) {
        const auto comma = list.find(',', start);
        RedisHostPort node{"", default_port};
        parse_host_port(list.substr(start, comma - start), node.host, node.port);
        if (std::find(nodes.begin(), nodes.end(), node) != nodes.end()) fail("a node is listed twice");
        nodes.push_back(node);
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return nodes;
}

// Splits "[userinfo@]hosts[/path]" into the endpoint's credentials, the hosts and the path
// (without its '/'; npos when there is none).
std::string take_authority(const std::string& rest, RedisEndpoint& endpoint, std::string& path,
                           const char* scheme) {
    if (rest.find_first_of("?#") != std::string::npos) {
        fail(std::string("a ") + scheme + " URL takes no query or fragment");
    }
    // The password may contain '/' (the path cannot hold an '@'), so the userinfo ends at
    // the last '@'.
    const auto at = rest.rfind('@');
    const std::string after_userinfo = at == std::string::npos ? rest : take_userinfo(rest, at, endpoint);
    const auto path_start = after_userinfo.find('/');
    path = path_start == std::string::npos ? std::string() : after_userinfo.substr(path_start + 1);
    return after_userinfo.substr(0, path_start);
}

RedisEndpoint parse_tcp(const std::string& rest) {
    RedisEndpoint endpoint;
    std::string path;
    const std::string hostport = take_authority(rest, endpoint, path, "redis://");
    if (hostport.find(',') != std::string::npos) {
        fail("a redis:// URL names one node; list a cluster's nodes with redis-cluster://");
    }
    parse_host_port(hostport, endpoint.host, endpoint.port);
    if (!path.empty()) parse_db(path, endpoint);  // "redis://host/" means db 0
    return endpoint;
}

// A cluster's or the sentinels' URL up to its path: the credentials and the node list.
RedisEndpoint parse_node_list(const std::string& rest, RedisEndpoint::Topology topology, const char* scheme,
                              int default_port, std::string& path) {
    RedisEndpoint endpoint;
    endpoint.topology = topology;
    endpoint.seeds = parse_host_list(take_authority(rest, endpoint, path, scheme), default_port);
    endpoint.host = endpoint.seeds.front().host;
    endpoint.port = endpoint.seeds.front().port;
    return endpoint;
}

RedisEndpoint parse_cluster(const std::string& rest) {
    std::string path;
    RedisEndpoint endpoint =
        parse_node_list(rest, RedisEndpoint::Topology::cluster, "redis-cluster://", 6379, path);
    if (!path.empty() && path != "0") fail("a Redis Cluster has only database 0");
    return endpoint;
}

RedisEndpoint parse_sentinel(const std::string& rest) {
    std::string path;
    RedisEndpoint endpoint =
        parse_node_list(rest, RedisEndpoint::Topology::sentinel, "redis-sentinel://", 26379, path);
    const auto slash = path.find('/');
    endpoint.master_name = path.substr(0, slash);
    if (endpoint.master_name.empty()) fail("the master name is missing: redis-sentinel://hosts/master-name");
    for (const char c : endpoint.master_name) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
            fail("the master name may hold letters, digits, '-', '_' and '.' only");
        }
    }
    if (slash != std::string::npos) parse_db(path.substr(slash + 1), endpoint);
    return endpoint;
}

RedisEndpoint parse_unix(const std::string& rest) {
    RedisEndpoint endpoint;
    endpoint.transport = RedisEndpoint::Transport::unix_socket;
    if (rest.find('#') != std::string::npos) fail("a unix:// URL takes no fragment");
    const auto query_start = rest.find('?');
    const std::string before_query = rest.substr(0, query_start);
    // Userinfo, if any, ends with the first "@/", which starts the path (an '@' followed by
    // '/' inside a password must be written %40).
    std::string path = before_query;
    if (!before_query.empty() && before_query.front() != '/') {
        const auto at = before_query.find("@/");
        if (at == std::string::npos) fail("the socket path must be absolute: unix:///path");
        path = take_userinfo(before_query, at, endpoint);
    }
    if (path.empty() || path.front() != '/') fail("the socket path must be absolute: unix:///path");
    if (path.size() < 2 || path.back() == '/') fail("the socket path names a directory");
    for (const char c : path) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) fail("control character in the socket path");
    }
    endpoint.socket_path = path;

    if (query_start != std::string::npos) {
        const std::string query = rest.substr(query_start + 1);
        if (!starts_with(query, "db=") || query.find('&') != std::string::npos) {
            fail("the only query parameter of a unix:// URL is db=N");
        }
        parse_db(query.substr(3), endpoint);
    }
    return endpoint;
}

}  // namespace

std::string RedisHostPort::describe() const {
    const bool ipv6 = host.find(':') != std::string::npos;
    return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string describe_nodes(const std::vector<RedisHostPort>& nodes, const char* separator) {
    std::string list;
    for (const RedisHostPort& node : nodes) list += (list.empty() ? "" : separator) + node.describe();
    return list;
}

std::string RedisEndpoint::describe() const {
    if (topology == Topology::cluster) return "redis-cluster://" + describe_nodes(seeds);
    if (topology == Topology::sentinel) {
        return "redis-sentinel://" + describe_nodes(seeds) + "/" + master_name + "/" + std::to_string(db);
    }
    if (transport == Transport::unix_socket) {
        return "unix://" + socket_path + "?db=" + std::to_string(db);
    }
    return "redis://" + RedisHostPort{host, port}.describe() + "/" + std::to_string(db);
}

RedisEndpoint parse_redis_url(const std::string& url) {
    if (url.empty()) fail("the URL is empty");
    for (const char c : url) {
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7F) fail("space or control character in the URL");
    }
    if (starts_with(url, "redis://")) return parse_tcp(url.substr(8));
    if (starts_with(url, "unix://")) return parse_unix(url.substr(7));
    if (starts_with(url, "redis-cluster://")) return parse_cluster(url.substr(16));
    if (starts_with(url, "redis-sentinel://")) return parse_sentinel(url.substr(17));
    if (starts_with(url, "rediss://")) {
        throw RedisUrlError(
            "rediss:// (TLS) is not supported: Debian 12's hiredis 0.14 has no TLS; "
            "use a local stunnel or a private network");
    }
    fail("unknown scheme");
}

}  // namespace testino::plugins
