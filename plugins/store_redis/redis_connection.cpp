#include "redis_connection.hpp"

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <sys/time.h>

#include <cstdint>
#include <utility>

namespace testino::plugins {
namespace {

timeval to_timeval(std::chrono::milliseconds duration) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(duration.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((duration.count() % 1000) * 1000);
    return tv;
}

bool starts_with(const std::string& text, const char* prefix) { return text.rfind(prefix, 0) == 0; }

std::string lowercase_first(std::string text) {
    if (!text.empty() && text[0] >= 'A' && text[0] <= 'Z') text[0] = static_cast<char>(text[0] - 'A' + 'a');
    return text;
}

std::string error_text(const redisAsyncContext& context, const char* fallback) {
    return lowercase_first(context.errstr && context.errstr[0] ? context.errstr : fallback);
}

// Classifies an error reply to the connection handshake.
RedisFailure handshake_failure(const std::string& command, const std::string& error, long long db) {
    RedisFailure failure;
    if (starts_with(error, "NOAUTH") || starts_with(error, "WRONGPASS") ||
        error.find("invalid password") != std::string::npos ||
        error.find("without any password configured") != std::string::npos ||
        (command == "AUTH" && starts_with(error, "ERR"))) {
        failure.fault = RedisFault::auth_failed;
        failure.detail = "authentication failed (" + error + ")";
    } else if (command == "SELECT") {
        failure.fault = RedisFault::invalid_db;
        failure.detail = "invalid DB index " + std::to_string(db) + " (" + error + ")";
    } else {
        failure.fault = RedisFault::reply_error;
        failure.detail = command + " failed: " + error;
    }
    return failure;
}

std::vector<std::vector<std::string>> handshake_commands(const RedisEndpoint& endpoint) {
    // Authenticate, select the database, or at least PING, so that a bad password or
    // index shows now, as such, and not as the first command's error.
    std::vector<std::vector<std::string>> steps;
    if (!endpoint.password.empty()) {
        std::vector<std::string> auth{"AUTH"};
        if (!endpoint.username.empty()) auth.push_back(endpoint.username);
        auth.push_back(endpoint.password);
        steps.push_back(std::move(auth));
    }
    if (endpoint.db != 0) steps.push_back({"SELECT", std::to_string(endpoint.db)});
    if (steps.empty()) steps.push_back({"PING"});
    return steps;
}

int send_argv(redisAsyncContext* context, redisCallbackFn* callback, void* privdata,
              const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<std::size_t> sizes;
    argv.reserve(args.size());
    sizes.reserve(args.size());
    for (const auto& arg : args) {
        argv.push_back(arg.data());
        sizes.push_back(arg.size());
    }
    return redisAsyncCommandArgv(context, callback, privdata, static_cast<int>(args.size()), argv.data(),
                                 sizes.data());
}

void* as_privdata(std::uint64_t value) { return reinterpret_cast<void*>(static_cast<std::uintptr_t>(value)); }

std::uint64_t from_privdata(void* privdata) {
    return static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(privdata));
}

}  // namespace

RedisFailure command_timed_out(std::chrono::milliseconds timeout) {
    return {RedisFault::unreachable,
            "no answer within the command timeout (" + std::to_string(timeout.count()) + " ms)", false};
}

RedisConnection::RedisConnection(event_base& base, const RedisClientOptions& options, Listener& listener)
    : base_(base), options_(options), listener_(listener), timer_(evtimer_new(&base, on_timer, this)) {}

RedisConnection::~RedisConnection() {
    close({RedisFault::stopped, "redis store: shutting down", false});
    event_free(timer_);
}

void RedisConnection::connect() {
    if (state_ != State::empty) return;
    const RedisEndpoint& endpoint = options_.endpoint;
    const bool tcp = endpoint.transport == RedisEndpoint::Transport::tcp;
    redisAsyncContext* context = tcp ? redisAsyncConnect(endpoint.host.c_str(), endpoint.port)
                                     : redisAsyncConnectUnix(endpoint.socket_path.c_str());
    if (!context) {
        listener_.on_connect_failed(
            *this, {RedisFault::unreachable, "out of memory allocating a connection", false});
        return;
    }
    // TCP keep-alive notices a peer that vanished while the connection was idle (a Unix
    // socket refuses the option).
    if (!context->err && tcp) redisEnableKeepAlive(&context->c);
    if (context->err || redisLibeventAttach(context, &base_) != REDIS_OK) {
        const RedisFailure failure{RedisFault::unreachable,
                                   "cannot connect: " + error_text(*context, "connection failed"), false};
        redisAsyncFree(context);
        listener_.on_connect_failed(*this, failure);
        return;
    }
    context->data = this;
    redisAsyncSetConnectCallback(context, on_connect);
    redisAsyncSetDisconnectCallback(context, on_disconnect);
    context_ = context;
    state_ = State::connecting;
    tcp_connected_ = false;
    closing_set_ = false;
    pending_ = 0;
    const timeval timeout = to_timeval(options_.connect_timeout);
    evtimer_add(timer_, &timeout);
    if (!start_handshake()) {
        fail_connect({RedisFault::unreachable, "cannot queue the handshake", false});
    }
}

bool RedisConnection::start_handshake() {
    handshake_names_.clear();
    std::size_t step = 0;
    for (const auto& args : handshake_commands(options_.endpoint)) {
        handshake_names_.push_back(args.front());
        if (send_argv(context_, on_handshake_reply, as_privdata(step++), args) != REDIS_OK) return false;
    }
    return true;
}

bool RedisConnection::send(const std::vector<std::string>& args, std::uint64_t tag) {
    if (state_ != State::ready || !context_) return false;
    if (send_argv(context_, on_command_reply, as_privdata(tag), args) != REDIS_OK) return false;
    ++pending_;
    return true;
}

bool RedisConnection::subscribe(const std::string& channel) {
    if (state_ != State::ready || !context_) return false;
    return send_argv(context_, on_subscribed_message, nullptr, {"SUBSCRIBE", channel}) == REDIS_OK;
}

void RedisConnection::on_subscribed_message(redisAsyncContext* context, void* reply, void*) {
    auto* self = static_cast<RedisConnection*>(context->data);
    // hiredis calls this once more with no reply when the context is freed.
    if (context != self->context_ || !reply) return;
    self->listener_.on_message(*self, *static_cast<const redisReply*>(reply));
}

void RedisConnection::close(const RedisFailure& why) {
    if (!context_) return;
    redisAsyncContext* context = std::exchange(context_, nullptr);  // callbacks now see a stale context
    closing_ = why;
    closing_set_ = true;
    state_ = State::empty;
    evtimer_del(timer_);
    redisAsyncFree(context);  // pending commands are answered nullptr with closing_
}

void RedisConnection::fail_connect(const RedisFailure& why) {
    close(why);
    listener_.on_connect_failed(*this, why);
}

RedisFailure RedisConnection::lost_failure(const redisAsyncContext& context) const {
    return {RedisFault::unreachable, "connection lost: " + error_text(context, "connection closed"), true};
}

void RedisConnection::on_connect(const redisAsyncContext* context, int status) {
    auto* self = static_cast<RedisConnection*>(context->data);
    if (context != self->context_) return;
    if (status != REDIS_OK) {
        // hiredis frees the context after this returns.
        self->context_ = nullptr;
        self->state_ = State::empty;
        evtimer_del(self->timer_);
        self->listener_.on_connect_failed(
            *self,
            {RedisFault::unreachable, "cannot connect: " + error_text(*context, "connection failed"), false});
        return;
    }
    // Connected: the handshake gets the command timeout, like any command.
    self->tcp_connected_ = true;
    const timeval timeout = to_timeval(self->options_.command_timeout);
    evtimer_add(self->timer_, &timeout);
}

void RedisConnection::on_disconnect(const redisAsyncContext* context, int) {
    auto* self = static_cast<RedisConnection*>(context->data);
    if (context != self->context_) return;  // closed by us: already handled
    // The server closed it, or a read or write failed; hiredis frees it after this.
    self->context_ = nullptr;
    const State was = std::exchange(self->state_, State::empty);
    evtimer_del(self->timer_);
    if (was == State::connecting) {
        RedisFailure failure = self->lost_failure(*context);
        failure.detail =
            "connection closed during the handshake: " + error_text(*context, "connection closed");
        failure.retryable = false;
        self->listener_.on_connect_failed(*self, failure);
    } else {
        self->listener_.on_lost(*self);
    }
}

void RedisConnection::on_handshake_reply(redisAsyncContext* context, void* reply, void* step) {
    auto* self = static_cast<RedisConnection*>(context->data);
    if (context != self->context_ || self->state_ != State::connecting || !reply) return;
    self->handshake_reply(static_cast<std::size_t>(from_privdata(step)), static_cast<redisReply*>(reply));
}

void RedisConnection::handshake_reply(std::size_t step, const redisReply* reply) {
    if (reply->type == REDIS_REPLY_ERROR) {
        fail_connect(handshake_failure(handshake_names_.at(step), std::string(reply->str, reply->len),
                                       options_.endpoint.db));
        return;
    }
    if (step + 1 < handshake_names_.size()) return;
    state_ = State::ready;
    evtimer_del(timer_);
    listener_.on_ready(*this);
}

void RedisConnection::on_command_reply(redisAsyncContext* context, void* reply, void* tag) {
    auto* self = static_cast<RedisConnection*>(context->data);
    if (self->pending_ > 0) --self->pending_;
    const auto* answer = static_cast<const redisReply*>(reply);
    RedisFailure why;
    if (!answer) why = self->closing_set_ ? self->closing_ : self->lost_failure(*context);
    self->listener_.on_reply(*self, from_privdata(tag), answer, why);
}

void RedisConnection::on_timer(int, short, void* arg) {
    auto* self = static_cast<RedisConnection*>(arg);
    if (self->state_ != State::connecting) return;
    if (self->tcp_connected_) {
        self->fail_connect(command_timed_out(self->options_.command_timeout));
    } else {
        self->fail_connect({RedisFault::unreachable,
                            "cannot connect: no connection within the connect timeout (" +
                                std::to_string(self->options_.connect_timeout.count()) + " ms)",
                            false});
    }
}

}  // namespace testino::plugins
