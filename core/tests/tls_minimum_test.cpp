#include "http/tls_minimum.hpp"

#include <gtest/gtest.h>
#include <openssl/ssl.h>

namespace testino {
namespace {

// The only test of this binary that loads the settings: before it, OpenSSL's own defaults.
TEST(TlsMinimum, NewContextsStartAtTls12OnceSet) {
    const int before = default_server_min_protocol();
    EXPECT_LT(before, TLS1_2_VERSION) << "OpenSSL's own default already is TLS 1.2: this test proves nothing";
    require_tls12_minimum();
    EXPECT_EQ(default_server_min_protocol(), TLS1_2_VERSION);
    // The documented side effect: the process's TLS clients get the same minimum.
    SSL_CTX* client = SSL_CTX_new(TLS_client_method());
    ASSERT_NE(client, nullptr);
    EXPECT_EQ(SSL_CTX_get_min_proto_version(client), TLS1_2_VERSION);
    SSL_CTX_free(client);
    require_tls12_minimum();  // again, as a second listener would: harmless
    EXPECT_EQ(default_server_min_protocol(), TLS1_2_VERSION);
}

}  // namespace
}  // namespace testino
