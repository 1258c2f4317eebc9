// The store's I/O thread: one libevent event_base run by one thread, and a wake-up that
// any thread may use (an eventfd watched by the loop). Only the loop thread touches the
// base, so libevent needs no locking (no evthread_use_pthreads, no global state).
#pragma once

#include <functional>
#include <thread>

struct event;
struct event_base;

namespace testino::plugins {

class RedisEventLoop {
public:
    RedisEventLoop();   // the base and the wake-up; throws std::runtime_error
    ~RedisEventLoop();  // joins the thread (after exit()), frees the base
    RedisEventLoop(const RedisEventLoop&) = delete;
    RedisEventLoop& operator=(const RedisEventLoop&) = delete;

    event_base& base() { return *base_; }

    // Starts the thread; it runs `on_wake` after each wake() or kick(), until exit().
    void start(std::function<void()> on_wake);
    // Any thread: have the loop run on_wake soon. Cheap but a system call: callers coalesce.
    void wake();
    // Loop thread: run on_wake again once the current callback returns.
    void kick();
    // Loop thread: leave the loop once the current callback returns.
    void exit();
    // Not on the loop thread: waits for it to end.
    void join();

private:
    static void on_wake_event(int fd, short what, void* self);

    event_base* base_;
    int wake_fd_ = -1;
    event* wake_event_ = nullptr;
    std::function<void()> on_wake_;
    std::thread thread_;
};

}  // namespace testino::plugins
