#include "pg_pool.hpp"

#include <utility>

namespace testino::plugins {
namespace {

void fail_quietly(PgJob& job, const PgFailure& failure) noexcept {
    try {
        job.fail(failure);
    } catch (...) {
        // Completions must not throw (the SDK's rule); the pool's threads survive one that does.
    }
}

}  // namespace

PgPool::PgPool(PgPoolOptions options, Prepare prepare, OnFailure on_failure)
    : options_(std::move(options)), prepare_(std::move(prepare)), on_failure_(std::move(on_failure)) {
    workers_.reserve(options_.size);
    for (std::size_t i = 0; i < options_.size; ++i) workers_.emplace_back([this] { work(); });
    reaper_ = std::thread([this] { reap(); });
}

PgPool::~PgPool() {
    std::deque<PgJob> left;
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        left.swap(queue_);
    }
    has_work_.notify_all();
    reaper_wake_.notify_all();
    for (auto& job : left) fail_quietly(job, {PgFault::stopped, "the store is shutting down"});
    for (auto& worker : workers_) worker.join();
    reaper_.join();
}

void PgPool::submit(PgJob job) {
    std::optional<PgFailure> refused;
    bool was_empty = false;
    {
        std::lock_guard lock(mutex_);
        if (stopping_) {
            refused = PgFailure{PgFault::stopped, "the store is shutting down"};
        } else if (queue_.size() >= options_.queue_capacity) {
            refused =
                PgFailure{PgFault::busy, "the queue is full (" + std::to_string(options_.queue_capacity) +
                                             " operations waiting for a connection)"};
        } else {
            was_empty = queue_.empty();
            queue_.push_back(std::move(job));
        }
    }
    if (refused) {
        fail_quietly(job, *refused);
        return;
    }
    has_work_.notify_one();
    // The reaper sleeps until the front's deadline, which a later job does not move.
    if (was_empty) reaper_wake_.notify_one();
}

std::size_t PgPool::queued() const {
    std::lock_guard lock(mutex_);
    return queue_.size();
}

std::optional<PgJob> PgPool::next() {
    std::unique_lock lock(mutex_);
    has_work_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return std::nullopt;
    PgJob job = std::move(queue_.front());
    queue_.pop_front();
    return job;
}

void PgPool::work() {
    PgConnection connection(options_.dsn, options_.sslmode);
    while (auto job = next()) {
        if (PgClock::now() >= job->deadline) {
            fail_quietly(*job, {PgFault::busy, "no connection was free before the deadline"});
            continue;
        }
        connection.drop_if_closed();
        if (!connection.connected()) {
            if (auto failure = connect(connection, *job)) {
                fail_quietly(*job, *failure);
                continue;
            }
        }
        try {
            job->run(connection, job->deadline);
        } catch (...) {
            // A job completes itself in a noexcept step, its last: one that threw has not
            // completed yet, and must, without stopping the worker.
            fail_quietly(*job, {PgFault::query_error, "the operation failed in the store"});
        }
    }
}

std::optional<PgFailure> PgPool::connect(PgConnection& connection, const PgJob& job) {
    {
        std::lock_guard lock(mutex_);
        const auto now = PgClock::now();
        if (connect_failure_ && now < next_probe_) return connect_failure_;
        next_probe_ = now + kProbeInterval;  // this worker probes; the others wait for it
    }
    const auto connect_by = std::min(job.deadline, PgClock::now() + options_.connect_timeout);
    std::optional<PgFailure> failure = connection.connect(connect_by);
    const bool reached = !failure;
    if (!failure && prepare_) failure = prepare_(connection, job.deadline);
    {
        std::lock_guard lock(mutex_);
        if (reached) {
            connect_failure_.reset();
        } else {
            connect_failure_ = failure;
            next_probe_ = PgClock::now() + kProbeInterval;
        }
    }
    if (failure) {
        connection.close();
        on_failure_(*failure);
    }
    return failure;
}

void PgPool::reap() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        if (queue_.empty()) {
            reaper_wake_.wait(lock);
            continue;
        }
        const auto front_deadline = queue_.front().deadline;
        if (PgClock::now() < front_deadline) {
            reaper_wake_.wait_until(lock, front_deadline);
            continue;
        }
        std::vector<PgJob> expired;
        while (!queue_.empty() && queue_.front().deadline <= PgClock::now()) {
            expired.push_back(std::move(queue_.front()));
            queue_.pop_front();
        }
        lock.unlock();
        for (auto& job : expired) {
            fail_quietly(job, {PgFault::busy,
                               "no connection was free before the deadline (every connection "
                               "was busy or waiting for Postgres)"});
        }
        lock.lock();
    }
}

}  // namespace testino::plugins
