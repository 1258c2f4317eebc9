// Where the Redis store connects: the parsed form of `store.redis.url`.
//
//   redis://[[user]:password@]host[:port][/db]       TCP; port 6379 and db 0 by default
//   unix://[[user]:password@]/abs/path.sock[?db=N]   a Unix socket; db 0 by default
//   redis-cluster://[[user]:password@]host[:port][,host[:port]...]
//       a Redis Cluster; the nodes are seeds (any one that answers gives the slot map);
//       port 6379 by default; db 0 only (a cluster has no other)
//   redis-sentinel://[[user]:password@]host[:port][,host[:port]...]/master-name[/db]
//       the primary the sentinels name for master-name; port 26379 by default. The
//       credentials are the data nodes'; the sentinels' own come from other settings
//
// In a list, an IPv6 host is written in brackets: [::1]:7000.
//
// User and password may be percent-encoded (%40 for '@'). `rediss://` (TLS) is refused:
// Debian 12's hiredis 0.14 has no TLS support.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace testino::plugins {

// A host and port in a seed or sentinel list.
struct RedisHostPort {
    std::string host;
    int port = 0;
    bool operator==(const RedisHostPort& other) const { return host == other.host && port == other.port; }
    std::string describe() const;  // "host:port", "[::1]:port"
};

// The nodes described, `separator` between them.
std::string describe_nodes(const std::vector<RedisHostPort>& nodes, const char* separator = ",");

struct RedisEndpoint {
    enum class Transport { tcp, unix_socket };
    // One node (host/port or socket_path), a cluster found from `seeds`, or the primary
    // the sentinels in `seeds` name for `master_name`.
    enum class Topology { single, cluster, sentinel };

    Transport transport = Transport::tcp;
    std::string host = "127.0.0.1";  // tcp
    int port = 6379;                 // tcp
    std::string socket_path;         // unix_socket
    std::string username;            // "" with a password: AUTH <password> (the default user)
    std::string password;            // "": no AUTH
    long long db = 0;

    Topology topology = Topology::single;
    std::vector<RedisHostPort> seeds;  // cluster seeds or sentinels, in the URL's order
    std::string master_name;           // sentinel
    std::string sentinel_username;     // sentinel: AUTH to the sentinels themselves
    std::string sentinel_password;

    // The endpoint for logs and health: scheme, address and db, never the credentials.
    std::string describe() const;
};

// Thrown by parse_redis_url. The message says what is wrong and never repeats the URL,
// which may hold a password.
class RedisUrlError : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

RedisEndpoint parse_redis_url(const std::string& url);

}  // namespace testino::plugins
