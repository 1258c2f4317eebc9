// Small OpenSSL helpers the key loading (domain/signing_key.cpp) and the TLS set-up
// (config/tls_config.cpp, http/tls_minimum.cpp) share.
#pragma once

#include <openssl/err.h>

#include <memory>
#include <string>

namespace testino::openssl {

// A unique_ptr deleter that calls OpenSSL's free function.
template <typename T, void (*Free)(T*)>
struct Deleter {
    void operator()(T* p) const { Free(p); }
};

// OpenSSL's reason for the last failure (never key material), and an emptied error queue.
inline std::string reason() {
    const unsigned long code = ERR_peek_last_error();
    const char* text = code != 0 ? ERR_reason_error_string(code) : nullptr;
    ERR_clear_error();
    return text != nullptr ? text : "no reason given";
}

// The PEM password callback: no passphrase, ever. OpenSSL's default callback prompts on the
// terminal for an encrypted key; this one makes the decoding fail instead.
inline int refuse_passphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*userdata*/) { return -1; }

}  // namespace testino::openssl
