// Idempotent sends: send-otp with an Idempotency-Key (draft-ietf-httpapi-idempotency-key-header).
// The key's record lives in the store for the code's lifetime, so every instance sees it:
//   "P <fingerprint>"            the first request is still running: a repeat gets 409
//   "D <fingerprint> <reply>"    it was answered 200: a repeat gets the same reply, no SMS
//   "U <fingerprint>"            its SMS was uncertain (may arrive): a repeat gets that 502
// The fingerprint is a SHA-256 of the request's fields: the same key with another request is a
// 422. A request refused for any other reason removes the record, so that a retry may try again.
#include <openssl/evp.h>

#include <sstream>

#include "app/otp_flow_jobs.hpp"
#include "domain/otp_crypto.hpp"
#include "observability/logging.hpp"
#include "observability/metrics.hpp"

namespace testino {
namespace {

constexpr std::size_t kMaxKeyLength = 255;

std::string hex_sha256(const std::string& text) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha256(), nullptr);
    return to_hex(digest, size);
}

std::string fingerprint(const SendOtpRequest& r) {
    const std::string channel = r.channel ? sdk::to_string(*r.channel) : "";
    return hex_sha256(r.country_code + '\n' + r.mobile_number + '\n' + r.locale + '\n' + channel);
}

bool valid_key(const std::string& key) {
    if (key.empty() || key.size() > kMaxKeyLength) return false;
    for (const unsigned char c : key) {
        if (c < 0x21 || c > 0x7e) return false;
    }
    return true;
}

// "<expires_in> <verification_id> <channel> <next channel or -> <next_in>"
std::string encode_reply(const SendAccepted& a) {
    std::ostringstream out;
    out << a.expires_in.count() << ' ' << a.verification_id << ' ' << static_cast<int>(a.channel) << ' '
        << (a.next_channel ? static_cast<int>(*a.next_channel) : -1) << ' ' << a.next_channel_in.count();
    return out.str();
}

std::optional<SendAccepted> decode_reply(const std::string& text) {
    std::istringstream in(text);
    long long expires = 0;
    long long next_in = 0;
    int channel = 0;
    int next = -1;
    SendAccepted a{};
    if (!(in >> expires >> a.verification_id >> channel >> next >> next_in)) return std::nullopt;
    if (channel < 0 || channel > 2 || next < -1 || next > 2) return std::nullopt;
    a.expires_in = std::chrono::seconds(expires);
    a.channel = static_cast<sdk::Channel>(channel);
    if (next >= 0) a.next_channel = static_cast<sdk::Channel>(next);
    a.next_channel_in = std::chrono::seconds(next_in);
    a.replayed = true;
    return a;
}

ApiError key_error(std::string message) { return validation_error("Idempotency-Key", std::move(message)); }

ApiError uncertain_error() {
    return make_error(ErrorCode::sms_delivery_uncertain,
                      "The SMS provider did not confirm the send; the code may still arrive. "
                      "Wait a minute before asking for another");
}

}  // namespace

void OtpFlow::send(const SendOtpRequest& request, RequestInfo info, FlowDone<SendAccepted> done) {
    if (request.idempotency_key.empty()) return send_once(request, std::move(info), std::move(done));
    if (!valid_key(request.idempotency_key)) {
        return done(key_error("Header Idempotency-Key must be 1 to 255 visible ASCII characters"));
    }
    std::shared_ptr<sdk::OtpStore> store = store_.shared();
    if (!store->keeps_records()) {
        return done(key_error("This server's store keeps no idempotency keys; send the request without one"));
    }
    const std::string record = "idem:{" + hex_sha256(request.idempotency_key).substr(0, 32) + "}";
    const std::string print = fingerprint(request);
    const auto ttl = config_.expiry;
    store->claim_record(
        record, "P " + print, ttl,
        [this, store, record, print, ttl, request, info = std::move(info),
         done = std::move(done)](sdk::RecordResult claimed) mutable {
            if (claimed.status != sdk::StoreStatus::ok) {
                log_error("store.idempotency_failed",
                          {{"request_id", info.request_id}, {"detail", claimed.detail}});
                return done(store_error({claimed.status, claimed.detail}));
            }
            if (!claimed.created) return answer_repeat(claimed.value, print, info, std::move(done));
            send_once(request, info,
                      [store, record, print, ttl, done = std::move(done)](Expected<SendAccepted> result) {
                          std::string value;
                          if (result) value = "D " + print + " " + encode_reply(result.value());
                          if (!result && result.error().code == ErrorCode::sms_delivery_uncertain) {
                              value = "U " + print;
                          }
                          // Answered once the record says so: a repeat after the answer finds it.
                          auto answer = [result = std::move(result), done = std::move(done)](
                                            sdk::StoreResult) mutable { done(std::move(result)); };
                          if (value.empty()) return store->remove_record(record, std::move(answer));
                          store->put_record(record, value, ttl, std::move(answer));
                      });
        });
}

void OtpFlow::answer_repeat(const std::string& value, const std::string& print, const RequestInfo& info,
                            FlowDone<SendAccepted> done) {
    const bool same = value.size() >= 2 + print.size() && value.compare(2, print.size(), print) == 0;
    if (!same) {
        return done(key_error("This Idempotency-Key was used with a different request; use a new key"));
    }
    if (value[0] == 'P') {
        ApiError busy = make_error(ErrorCode::request_in_progress,
                                   "The first request with this Idempotency-Key is still running");
        busy.retry_after = std::chrono::seconds(1);
        return done(busy);
    }
    if (value[0] == 'U') return done(uncertain_error());
    const std::optional<SendAccepted> reply = decode_reply(value.substr(2 + print.size()));
    if (!reply) return done(make_error(ErrorCode::internal_error, "Unreadable idempotency record"));
    metrics::global().idempotent_replay();
    log_info("sms.idempotent_replay", {{"request_id", info.request_id}});
    done(*reply);
}

}  // namespace testino
