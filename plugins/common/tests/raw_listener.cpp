#include "raw_listener.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <stdexcept>
#include <thread>
#include <vector>

namespace testino::test {
namespace {

// The body length a request head announces (0 without Content-Length).
std::size_t content_length(const std::string& head) {
    std::string lower(head.size(), '\0');
    std::transform(head.begin(), head.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    const std::size_t at = lower.find("\r\ncontent-length:");
    if (at == std::string::npos) return 0;
    return static_cast<std::size_t>(std::strtoul(lower.c_str() + at + 17, nullptr, 10));
}

// True once `buffer` holds a whole request: the head and the body it announces.
bool holds_whole_request(const std::string& buffer) {
    const std::size_t end = buffer.find("\r\n\r\n");
    if (end == std::string::npos) return false;
    return buffer.size() >= end + 4 + content_length(buffer.substr(0, end + 2));
}

}  // namespace

struct RawListener::Impl {
    RawBehaviour behaviour;
    int listen_fd = -1;
    int port = 0;
    int wake[2] = {-1, -1};          // written to stop the loop
    std::vector<int> queue_fillers;  // never_accept: the connections that fill the queue
    std::atomic<std::size_t> accepted{0};
    std::atomic<std::size_t> complete{0};
    std::thread loop;

    void serve() {
        std::map<int, std::string> clients;  // fd -> bytes read so far
        for (;;) {
            std::vector<pollfd> fds{{wake[0], POLLIN, 0}, {listen_fd, POLLIN, 0}};
            for (const auto& entry : clients) fds.push_back({entry.first, POLLIN, 0});
            if (::poll(fds.data(), fds.size(), -1) < 0) continue;
            if (fds[0].revents != 0) break;
            if (fds[1].revents & POLLIN) {
                const int fd = ::accept(listen_fd, nullptr, nullptr);
                if (fd >= 0) {
                    ++accepted;
                    clients[fd];
                }
            }
            for (std::size_t i = 2; i < fds.size(); ++i) {
                if (fds[i].revents != 0) read_from(fds[i].fd, clients);
            }
        }
        for (const auto& entry : clients) ::close(entry.first);
    }

    void read_from(int fd, std::map<int, std::string>& clients) {
        char chunk[4096];
        const ssize_t got = ::read(fd, chunk, sizeof chunk);
        if (got <= 0) {
            ::close(fd);
            clients.erase(fd);
            return;
        }
        std::string& buffer = clients[fd];
        buffer.append(chunk, static_cast<std::size_t>(got));
        if (behaviour == RawBehaviour::close_after_request && holds_whole_request(buffer)) {
            ++complete;
            ::close(fd);  // the request went out whole; no answer comes back
            clients.erase(fd);
        }
    }

    // A listen backlog of 0 holds one connection; the next SYNs are dropped, so a client's
    // connect waits for its own timeout. Two fillers make sure the queue is full.
    void fill_accept_queue() {
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        address.sin_port = htons(static_cast<std::uint16_t>(port));
        for (int i = 0; i < 2; ++i) {
            const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            if (fd < 0) continue;
            (void)::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
            queue_fillers.push_back(fd);
        }
        // Let the first handshake finish, so the queue is taken before a client arrives.
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
};

RawListener::RawListener(RawBehaviour behaviour) : impl_(std::make_unique<Impl>()) {
    impl_->behaviour = behaviour;
    impl_->listen_fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    const int backlog = behaviour == RawBehaviour::never_accept ? 0 : 16;
    if (impl_->listen_fd < 0 ||
        ::bind(impl_->listen_fd, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        ::listen(impl_->listen_fd, backlog) != 0 ||
        ::getsockname(impl_->listen_fd, reinterpret_cast<sockaddr*>(&address), &length) != 0 ||
        ::pipe(impl_->wake) != 0) {
        if (impl_->listen_fd >= 0) ::close(impl_->listen_fd);
        throw std::runtime_error("raw listener: cannot listen on 127.0.0.1");
    }
    impl_->port = ntohs(address.sin_port);
    if (behaviour == RawBehaviour::never_accept) {
        impl_->fill_accept_queue();
        return;
    }
    impl_->loop = std::thread([impl = impl_.get()] { impl->serve(); });
}

RawListener::~RawListener() {
    if (impl_->loop.joinable()) {
        const char stop = 's';
        (void)::write(impl_->wake[1], &stop, 1);
        impl_->loop.join();
    }
    for (const int fd : impl_->queue_fillers) ::close(fd);
    ::close(impl_->wake[0]);
    ::close(impl_->wake[1]);
    ::close(impl_->listen_fd);
}

int RawListener::port() const { return impl_->port; }
std::string RawListener::http_url() const { return "http://127.0.0.1:" + std::to_string(impl_->port); }
std::string RawListener::https_url() const { return "https://127.0.0.1:" + std::to_string(impl_->port); }
std::size_t RawListener::connections() const { return impl_->accepted.load(); }
std::size_t RawListener::complete_requests() const { return impl_->complete.load(); }

}  // namespace testino::test
