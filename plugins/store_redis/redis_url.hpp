// Where the Redis store connects: the parsed form of `store.redis.url`.
//
//   redis://[[user]:password@]host[:port][/db]       TCP; port 6379 and db 0 by default
//   unix://[[user]:password@]/abs/path.sock[?db=N]   a Unix socket; db 0 by default
//
// User and password may be percent-encoded (%40 for '@'). `rediss://` (TLS) is refused:
// Debian 12's hiredis 0.14 has no TLS support.
#pragma once

#include <stdexcept>
#include <string>

namespace testino::plugins {

struct RedisEndpoint {
    enum class Transport { tcp, unix_socket };

    Transport transport = Transport::tcp;
    std::string host = "127.0.0.1";  // tcp
    int port = 6379;                 // tcp
    std::string socket_path;         // unix_socket
    std::string username;            // "" with a password: AUTH <password> (the default user)
    std::string password;            // "": no AUTH
    long long db = 0;

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
