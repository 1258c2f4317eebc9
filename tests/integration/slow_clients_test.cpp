// Slow clients (slowloris): many connections that dribble a request a byte at a time must
// neither starve normal clients nor stay open past the server's header/body timeouts.
// One thread drives every slow connection with non-blocking sockets and poll(), loopback
// only, bounded in count and in time.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <stdexcept>
#include <thread>

#include "integration_common.hpp"

namespace testino::test {
namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kByteInterval = 200ms;
// The bounds are generous on purpose (sanitizer builds, two cores, parallel ctest); the
// configured timeouts are 1 s for headers and 2 s for the body.
constexpr auto kCloseBound = 8s;
constexpr auto kPromptBound = 2s;

// As many slow connections as the fd limit safely allows (the server inherits the same
// limit and needs one fd per connection, the test needs one too), at most `wanted`.
std::size_t slow_connection_budget(std::size_t wanted) {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return wanted;
    const auto soft = static_cast<std::size_t>(limit.rlim_cur);
    const std::size_t safe = soft > 256 ? (soft - 128) / 2 : 16;
    return std::min(wanted, safe);
}

// Connections that each write `script` one byte per tick, after an optional first burst,
// and notice when the server closes them.
class SlowClients {
public:
    SlowClients(int port, std::size_t count, std::string script, std::size_t first_burst)
        : script_(std::move(script)) {
        connections_.reserve(count);
        for (std::size_t i = 0; i < count; ++i) connections_.push_back(connect_to(port));
        await_connected(Clock::now() + 10s);
        for (Connection& c : connections_) write_bytes(c, first_burst);
    }
    ~SlowClients() {
        for (const Connection& c : connections_) close(c.fd);
    }
    SlowClients(const SlowClients&) = delete;
    SlowClients& operator=(const SlowClients&) = delete;

    std::size_t count() const { return connections_.size(); }
    std::size_t open_count() const { return open_.load(); }
    // Connections on which a "408" status line arrived before the close.
    std::size_t timed_out_replies() const {
        return static_cast<std::size_t>(
            std::count_if(connections_.begin(), connections_.end(),
                          [](const Connection& c) { return c.received.rfind("HTTP/1.1 408", 0) == 0; }));
    }
    // True if any connection managed to send its whole script (the bound was too short).
    bool any_script_finished() const {
        return std::any_of(connections_.begin(), connections_.end(),
                           [&](const Connection& c) { return c.sent == script_.size(); });
    }

    // Dribbles one byte per tick on every open connection until the server has closed all
    // of them or `deadline` passes. Returns how many the server closed.
    std::size_t dribble_until_closed(Clock::time_point deadline) {
        auto next_tick = Clock::now() + kByteInterval;
        while (open_.load() > 0 && Clock::now() < deadline) {
            read_available(std::min(next_tick, deadline));
            if (Clock::now() >= next_tick) {
                for (Connection& c : connections_) write_bytes(c, 1);
                next_tick += kByteInterval;
            }
        }
        return count() - open_.load();
    }

private:
    struct Connection {
        int fd = -1;
        bool open = true;
        std::size_t sent = 0;
        std::string received;
    };

    static Connection connect_to(int port) {
        Connection c;
        c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c.fd < 0) throw std::runtime_error("socket() failed");
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(static_cast<std::uint16_t>(port));
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(c.fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 &&
            errno != EINPROGRESS) {
            close(c.fd);
            throw std::runtime_error("connect() failed");
        }
        return c;
    }

    // Non-blocking connects finish asynchronously; a listen backlog overflow only delays one.
    void await_connected(Clock::time_point deadline) {
        std::vector<pollfd> pending;
        for (const Connection& c : connections_) pending.push_back({c.fd, POLLOUT, 0});
        while (!pending.empty()) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
            if (left.count() <= 0) throw std::runtime_error("slow connections did not connect in time");
            poll(pending.data(), pending.size(), static_cast<int>(left.count()));
            for (const pollfd& p : pending) {
                if (p.revents == 0) continue;
                int error = 0;
                socklen_t size = sizeof error;
                getsockopt(p.fd, SOL_SOCKET, SO_ERROR, &error, &size);
                if (error != 0) throw std::runtime_error("a slow connection failed to connect");
            }
            pending.erase(std::remove_if(pending.begin(), pending.end(),
                                         [](const pollfd& p) { return p.revents != 0; }),
                          pending.end());
        }
        open_.store(connections_.size());
    }

    void write_bytes(Connection& c, std::size_t n) {
        n = std::min(n, script_.size() - c.sent);
        if (!c.open || n == 0) return;
        const ssize_t written = send(c.fd, script_.data() + c.sent, n, MSG_NOSIGNAL);
        if (written > 0) {
            c.sent += static_cast<std::size_t>(written);
        } else if (written < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            mark_closed(c);  // EPIPE / ECONNRESET: the server is gone
        }
    }

    // Waits until `until` for input; a read of 0 (FIN) or a reset is the server closing.
    void read_available(Clock::time_point until) {
        std::vector<pollfd> fds;
        std::vector<Connection*> owners;
        for (Connection& c : connections_) {
            if (!c.open) continue;
            fds.push_back({c.fd, POLLIN, 0});
            owners.push_back(&c);
        }
        const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
        if (poll(fds.data(), fds.size(), static_cast<int>(std::max<long long>(0, wait.count()))) <= 0) {
            return;
        }
        for (std::size_t i = 0; i < fds.size(); ++i) {
            if (fds[i].revents == 0) continue;
            Connection& c = *owners[i];
            char buffer[4096];
            for (;;) {
                const ssize_t n = recv(c.fd, buffer, sizeof buffer, 0);
                if (n > 0) {
                    c.received.append(buffer, static_cast<std::size_t>(n));
                    continue;
                }
                if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) mark_closed(c);
                break;
            }
        }
    }

    void mark_closed(Connection& c) {
        if (!c.open) return;
        c.open = false;
        open_.fetch_sub(1);
    }

    std::string script_;
    std::vector<Connection> connections_;
    std::atomic<std::size_t> open_{0};
};

class SlowClientsTest : public ::testing::Test {
protected:
    static TestConfig slow_config() {
        TestConfig config;
        config.server["header_timeout_ms"] = "1000";
        config.server["body_timeout_ms"] = "2000";
        return config;
    }
};

// A request whose headers take far longer to dribble than the bound: ~110 bytes at 5 a second.
std::string endless_headers() {
    return "GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow-Client: " + std::string(60, 'a') +
           "\r\n\r\n";
}

TEST_F(SlowClientsTest, ManySlowHeaderClientsDoNotStarveOthersAndAreClosedByTheHeaderTimeout) {
    auto server = start_server(slow_config());
    ASSERT_TRUE(server);
    const std::size_t count = slow_connection_budget(200);
    ASSERT_GE(count, 16u) << "the fd limit leaves too little room for this test";
    ASSERT_GT(static_cast<long>(endless_headers().size()) * kByteInterval, kCloseBound)
        << "the script would finish before the bound; the test could not tell a close from a reply";

    SlowClients slow(server->port(), count, endless_headers(), 1);
    std::size_t closed = 0;
    std::thread driver([&] { closed = slow.dribble_until_closed(Clock::now() + kCloseBound); });

    // Normal clients on fresh connections while the slow ones dribble.
    struct Served {
        long status;
        Clock::duration took;
        std::size_t slow_open_when_sent;
    };
    std::vector<Served> served;
    const auto normal_request = [&](const std::string& path, const std::string& body) {
        HttpClient client(server->port());
        const std::size_t open = slow.open_count();
        const auto start = Clock::now();
        const HttpResponse response = body.empty() ? client.get(path) : client.post_json(path, body);
        served.push_back({response.status, Clock::now() - start, open});
        EXPECT_EQ(response.status, 200) << path << ": " << response.error << response.body;
    };
    normal_request(kHealth, "");
    normal_request(kSendOtp, send_body("+1", "2025550171"));
    for (int i = 0; i < 5 && slow.open_count() > 0; ++i) {
        normal_request(kHealth, "");
        std::this_thread::sleep_for(100ms);
    }
    normal_request(kSendOtp, send_body("+1", "2025550172"));
    driver.join();

    for (const Served& s : served) {
        EXPECT_LT(s.took, kPromptBound) << "a normal request waited behind the slow clients";
    }
    // The first normal request went out right after the slow connections opened, long
    // before any timeout: it really competed with them.
    EXPECT_GT(served.front().slow_open_when_sent, 0u);
    EXPECT_FALSE(slow.any_script_finished());
    EXPECT_EQ(closed, count) << "slow connections still open " << std::chrono::seconds(kCloseBound).count()
                             << " s after they started; header_timeout_ms is 1000";
    EXPECT_GT(slow.timed_out_replies(), 0u) << "no slow connection was told 408 before the close";

    // And the server is still fine afterwards.
    HttpClient after(server->port());
    EXPECT_EQ(after.get(kHealth).status, 200);
}

TEST_F(SlowClientsTest, SlowBodyClientsAreClosedByTheBodyTimeout) {
    auto server = start_server(slow_config());
    ASSERT_TRUE(server);
    const std::string headers =
        std::string("POST ") + kSendOtp +
        " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n";
    // The headers arrive at once; the 100-byte body then needs 20 s at 5 bytes a second.
    const std::string request = headers + std::string(100, ' ');
    const std::size_t count = slow_connection_budget(20);

    SlowClients slow(server->port(), count, request, headers.size());
    std::size_t closed = 0;
    std::thread driver([&] { closed = slow.dribble_until_closed(Clock::now() + kCloseBound); });

    HttpClient client(server->port());
    const auto start = Clock::now();
    const HttpResponse health = client.get(kHealth);
    const auto took = Clock::now() - start;
    driver.join();

    EXPECT_EQ(health.status, 200) << health.error;
    EXPECT_LT(took, kPromptBound);
    EXPECT_FALSE(slow.any_script_finished());
    EXPECT_EQ(closed, count) << "slow-body connections still open "
                             << std::chrono::seconds(kCloseBound).count()
                             << " s after their headers; body_timeout_ms is 2000";
}

}  // namespace
}  // namespace testino::test
