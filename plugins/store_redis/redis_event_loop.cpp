#include "redis_event_loop.hpp"

#include <event2/event.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>
#include <stdexcept>
#include <utility>

namespace testino::plugins {

RedisEventLoop::RedisEventLoop() : base_(event_base_new()) {
    if (!base_) throw std::runtime_error("redis store: cannot create the event loop");
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd_ >= 0) wake_event_ = event_new(base_, wake_fd_, EV_READ | EV_PERSIST, on_wake_event, this);
    if (!wake_event_ || event_add(wake_event_, nullptr) != 0) {
        if (wake_event_) event_free(wake_event_);
        if (wake_fd_ >= 0) ::close(wake_fd_);
        event_base_free(base_);
        throw std::runtime_error("redis store: cannot create the event loop's wake-up");
    }
}

RedisEventLoop::~RedisEventLoop() {
    join();
    event_free(wake_event_);
    ::close(wake_fd_);
    event_base_free(base_);
}

void RedisEventLoop::start(std::function<void()> on_wake) {
    on_wake_ = std::move(on_wake);
    // The persistent wake-up event keeps the loop running until exit().
    thread_ = std::thread([this] { event_base_dispatch(base_); });
}

void RedisEventLoop::wake() {
    const std::uint64_t one = 1;
    // EAGAIN means the counter is already non-zero: the loop wakes anyway.
    [[maybe_unused]] const auto written = ::write(wake_fd_, &one, sizeof one);
}

void RedisEventLoop::kick() { event_active(wake_event_, EV_READ, 0); }

void RedisEventLoop::exit() { event_base_loopbreak(base_); }

void RedisEventLoop::join() {
    if (thread_.joinable()) thread_.join();
}

void RedisEventLoop::on_wake_event(int fd, short, void* arg) {
    std::uint64_t count = 0;
    [[maybe_unused]] const auto read = ::read(fd, &count, sizeof count);  // EAGAIN after a kick()
    static_cast<RedisEventLoop*>(arg)->on_wake_();
}

}  // namespace testino::plugins
