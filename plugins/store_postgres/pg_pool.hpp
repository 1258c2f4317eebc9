// The worker pool of the Postgres store: `size` threads, each owning one connection (so a
// connection is used by one thread at a time), fed by one bounded queue. The caller's
// thread (an HTTP reactor) only queues a job; a worker runs it and the job calls its
// completion from there.
//
// Deadlines: every job carries one, fixed when it was queued. A job still queued when its
// deadline passes (every worker busy, or waiting on a slow Postgres) is failed by the
// pool's reaper thread, so it completes on time however long the workers are held; a job
// a worker runs passes the same deadline to connecting and to its query. A full queue or a
// stopping pool fails a job at once.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "pg_connection.hpp"

namespace testino::plugins {

struct PgJob {
    PgClock::time_point deadline;
    // Runs on a worker with a connection that is connected and prepared; must complete the
    // job, last and without throwing (if it throws before that, the pool calls `fail`).
    std::function<void(PgConnection&, PgClock::time_point deadline)> run;
    // Completes the job as failed (the queue was full, the deadline passed, no connection).
    std::function<void(const PgFailure&)> fail;
};

struct PgPoolOptions {
    std::string dsn;
    std::string sslmode;
    std::size_t size = 8;
    std::size_t queue_capacity = 1024;
    std::chrono::milliseconds connect_timeout{500};
};

class PgPool {
public:
    static constexpr std::chrono::milliseconds kProbeInterval{100};

    // Called on a worker for each new connection before its first job (settings, schema);
    // a failure fails the job and closes the connection.
    using Prepare = std::function<std::optional<PgFailure>(PgConnection&, PgClock::time_point deadline)>;
    // Told of every failure to connect or prepare (for the store's up/down log).
    using OnFailure = std::function<void(const PgFailure&)>;

    PgPool(PgPoolOptions options, Prepare prepare, OnFailure on_failure);
    // Fails every queued job (stopped), waits for the jobs running (each bounded by its
    // deadline), and joins the threads.
    ~PgPool();
    PgPool(const PgPool&) = delete;
    PgPool& operator=(const PgPool&) = delete;

    void submit(PgJob job);
    std::size_t queued() const;

private:
    void work();
    void reap();
    // The job to run next, or nullopt when stopping.
    std::optional<PgJob> next();
    // Connects a worker's connection for `job`; the failure when it cannot. While Postgres
    // cannot be reached, one worker probes it every kProbeInterval and the others fail at
    // once with the last failure, instead of each waiting out its own connect.
    std::optional<PgFailure> connect(PgConnection& connection, const PgJob& job);

    const PgPoolOptions options_;
    const Prepare prepare_;
    const OnFailure on_failure_;

    mutable std::mutex mutex_;
    std::condition_variable has_work_;
    std::condition_variable reaper_wake_;
    std::deque<PgJob> queue_;  // FIFO with one deadline for all: the front expires first
    bool stopping_ = false;
    std::optional<PgFailure> connect_failure_;  // the last connect's, until one succeeds
    PgClock::time_point next_probe_{};

    std::vector<std::thread> workers_;
    std::thread reaper_;
};

}  // namespace testino::plugins
