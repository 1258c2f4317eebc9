// A TCP proxy on 127.0.0.1 that adds a fixed delay, for the Redis-latency benchmark
// (bench/redis_latency.py). The kernel here has no netem qdisc, so the round trip to Redis
// is lengthened in user space instead: every chunk read from either side is written to the
// other side DELAY after it was read, DELAY being half the requested round trip, in the
// order it was read. With a round trip of 0 the chunk is written at once: the same code
// path, so "+0 ms" isolates what the proxy itself costs.
//
// Usage: bench_delay_proxy UPSTREAM_PORT RTT_US [LIFETIME_S]
//   listens on 127.0.0.1, any free port, and connects every accepted connection to
//   127.0.0.1:UPSTREAM_PORT (loopback only, on both sides; nothing else is reachable).
//   Prints {"event":"proxy.listening","host":"127.0.0.1","port":N} on stdout once it accepts.
//   Exits 0 on SIGTERM/SIGINT, when its parent dies, or after LIFETIME_S (default 3600).
//
// One thread, epoll, one timerfd. Because every chunk gets the same delay, due times are in
// read order across all connections: one FIFO of (due time, direction) is the whole
// schedule. A chunk that cannot be written at once waits in its direction's output buffer
// (EPOLLOUT), and later chunks queue behind it, so order is kept. A connection closes both
// ways as soon as either side closes or fails (enough for a benchmark; Redis clients here
// hold their connections for the whole run).

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>

namespace {

using Nanos = std::int64_t;

Nanos now_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<Nanos>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

[[noreturn]] void die(const char* what) {
    std::fprintf(stderr, "bench_delay_proxy: %s: %s\n", what, std::strerror(errno));
    std::exit(1);
}

// One direction of a connection: bytes read from `from`, written to `to`.
struct Pipe {
    int from = -1;
    int to = -1;
    std::deque<std::string> pending;  // read, not yet due (their due times are in `schedule`)
    std::string out;                  // due, not yet taken by the kernel
    bool out_armed = false;           // EPOLLOUT watched on `to`
};

struct Conn {
    std::uint64_t id = 0;
    int client = -1;
    int upstream = -1;
    Pipe pipes[2];  // [0] client -> upstream, [1] upstream -> client
    bool closed = false;
};

struct Due {
    Nanos at;
    std::shared_ptr<Conn> conn;  // keeps a closed connection's memory until its chunks pass
    int dir;
};

volatile std::sig_atomic_t stop_requested = 0;
void on_signal(int) { stop_requested = 1; }

int epfd = -1;
int timer_fd = -1;
Nanos delay_ns = 0;
std::deque<Due> schedule;
std::unordered_map<std::uint64_t, std::shared_ptr<Conn>> conns;
std::uint64_t next_id = 1;

// epoll data: connection id << 1 | side (0 = client socket, 1 = upstream socket).
constexpr std::uint64_t kListener = 0;
constexpr std::uint64_t kTimer = 1;

void watch(int fd, std::uint64_t data, std::uint32_t events, int op) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = data;
    if (epoll_ctl(epfd, op, fd, &ev) != 0) die("epoll_ctl");
}

void close_conn(Conn& c) {
    if (c.closed) return;
    c.closed = true;
    close(c.client);  // also removes both from the epoll set
    close(c.upstream);
    conns.erase(c.id);  // Due entries may still hold it; their chunks are dropped
}

// Writes what is in pipe.out; watches EPOLLOUT on the destination while some is left.
void flush(Conn& c, int dir) {
    Pipe& p = c.pipes[dir];
    while (!p.out.empty()) {
        ssize_t n = send(p.to, p.out.data(), p.out.size(), MSG_NOSIGNAL);
        if (n > 0) {
            p.out.erase(0, static_cast<std::size_t>(n));
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            close_conn(c);
            return;
        }
    }
    bool want = !p.out.empty();
    if (want != p.out_armed) {
        p.out_armed = want;
        int side = 1 - dir;  // pipe 0 writes to the upstream socket (side 1), pipe 1 to the client
        watch(p.to, c.id << 1 | static_cast<std::uint64_t>(side), EPOLLIN | (want ? EPOLLOUT : 0u),
              EPOLL_CTL_MOD);
    }
}

void deliver(Conn& c, int dir, std::string&& chunk) {
    if (c.closed) return;
    Pipe& p = c.pipes[dir];
    bool waiting = !p.out.empty();
    p.out += chunk;
    if (!waiting) flush(c, dir);  // else EPOLLOUT is armed and the bytes follow in order
}

void arm_timer() {
    itimerspec spec{};  // all zero disarms
    if (!schedule.empty()) {
        Nanos at = schedule.front().at;
        spec.it_value.tv_sec = at / 1000000000;
        spec.it_value.tv_nsec = at % 1000000000;
    }
    if (timerfd_settime(timer_fd, TFD_TIMER_ABSTIME, &spec, nullptr) != 0) die("timerfd_settime");
}

void run_due() {
    std::uint64_t expirations = 0;
    (void)!read(timer_fd, &expirations, sizeof expirations);
    Nanos now = now_ns();
    while (!schedule.empty() && schedule.front().at <= now) {
        Due due = std::move(schedule.front());
        schedule.pop_front();
        Pipe& p = due.conn->pipes[due.dir];
        std::string chunk = std::move(p.pending.front());
        p.pending.pop_front();
        deliver(*due.conn, due.dir, std::move(chunk));
    }
    arm_timer();
}

void on_readable(const std::shared_ptr<Conn>& conn, int dir) {
    Conn& c = *conn;
    Pipe& p = c.pipes[dir];
    char buf[65536];
    for (;;) {
        ssize_t n = recv(p.from, buf, sizeof buf, 0);
        if (n > 0) {
            std::string chunk(buf, static_cast<std::size_t>(n));
            if (delay_ns == 0) {
                deliver(c, dir, std::move(chunk));
                if (c.closed) return;
            } else {
                p.pending.push_back(std::move(chunk));
                schedule.push_back(Due{now_ns() + delay_ns, conn, dir});
                if (schedule.size() == 1) arm_timer();
            }
            if (static_cast<std::size_t>(n) < sizeof buf) return;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            close_conn(c);  // EOF or an error on either side closes both
            return;
        }
    }
}

void set_nodelay(int fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

sockaddr_in loopback(int port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return addr;
}

void accept_all(int listener, int upstream_port) {
    for (;;) {
        int client = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (client < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
            die("accept4");
        }
        // A blocking connect to loopback (instant), then non-blocking.
        int upstream = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr = loopback(upstream_port);
        if (upstream < 0 || connect(upstream, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
            fcntl(upstream, F_SETFL, fcntl(upstream, F_GETFL) | O_NONBLOCK) != 0) {
            std::fprintf(stderr, "bench_delay_proxy: connect to 127.0.0.1:%d: %s\n", upstream_port,
                         std::strerror(errno));
            if (upstream >= 0) close(upstream);
            close(client);
            continue;
        }
        set_nodelay(client);
        set_nodelay(upstream);
        auto c = std::make_shared<Conn>();
        c->id = next_id++;
        c->client = client;
        c->upstream = upstream;
        c->pipes[0].from = client;
        c->pipes[0].to = upstream;
        c->pipes[1].from = upstream;
        c->pipes[1].to = client;
        watch(client, c->id << 1, EPOLLIN, EPOLL_CTL_ADD);
        watch(upstream, c->id << 1 | 1, EPOLLIN, EPOLL_CTL_ADD);
        conns.emplace(c->id, std::move(c));
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3 || argc > 4) {
        std::fprintf(stderr, "usage: bench_delay_proxy UPSTREAM_PORT RTT_US [LIFETIME_S]\n");
        return 2;
    }
    const int upstream_port = std::atoi(argv[1]);
    const long rtt_us = std::atol(argv[2]);
    const long lifetime_s = argc == 4 ? std::atol(argv[3]) : 3600;
    if (upstream_port <= 0 || upstream_port > 65535 || rtt_us < 0 || lifetime_s <= 0) {
        std::fprintf(stderr, "bench_delay_proxy: bad arguments\n");
        return 2;
    }
    delay_ns = static_cast<Nanos>(rtt_us) * 1000 / 2;  // half the round trip each way
    const Nanos end_at = now_ns() + static_cast<Nanos>(lifetime_s) * 1000000000;

    prctl(PR_SET_PDEATHSIG, SIGTERM);  // never outlive the benchmark that started it
    std::signal(SIGTERM, on_signal);
    std::signal(SIGINT, on_signal);
    std::signal(SIGPIPE, SIG_IGN);

    int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listener < 0) die("socket");
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr = loopback(0);
    if (bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) die("bind");
    if (listen(listener, 128) != 0) die("listen");
    socklen_t len = sizeof addr;
    if (getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) die("getsockname");

    epfd = epoll_create1(EPOLL_CLOEXEC);
    timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (epfd < 0 || timer_fd < 0) die("epoll_create1/timerfd_create");
    watch(listener, kListener, EPOLLIN, EPOLL_CTL_ADD);
    watch(timer_fd, kTimer, EPOLLIN, EPOLL_CTL_ADD);

    std::printf(
        "{\"event\":\"proxy.listening\",\"host\":\"127.0.0.1\",\"port\":%d,"
        "\"upstream_port\":%d,\"rtt_us\":%ld}\n",
        ntohs(addr.sin_port), upstream_port, rtt_us);
    std::fflush(stdout);

    epoll_event events[256];
    while (!stop_requested && now_ns() < end_at) {
        int n = epoll_wait(epfd, events, 256, 1000);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait");
        }
        for (int i = 0; i < n; ++i) {
            const std::uint64_t data = events[i].data.u64;
            if (data == kListener) {
                accept_all(listener, upstream_port);
                continue;
            }
            if (data == kTimer) {
                run_due();
                continue;
            }
            auto it = conns.find(data >> 1);
            if (it == conns.end()) continue;  // closed earlier in this batch
            std::shared_ptr<Conn> conn = it->second;
            const int side = static_cast<int>(data & 1);
            // Readable side s feeds pipe s (client -> pipe 0); writable side s drains pipe 1 - s.
            if (events[i].events & EPOLLOUT) flush(*conn, 1 - side);
            if (!conn->closed && (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
                on_readable(conn, side);
            }
        }
    }
    return 0;
}
