// TLS 1.2 as the least protocol version the public listener accepts. Pistache 0.0.5 makes
// its SSL_CTX inside useSSL and never exposes it, so the minimum is set where every new
// SSL_CTX takes its defaults from: OpenSSL's "system_default" settings, loaded here from an
// in-memory config. Side effect, accepted: every TLS context the process makes afterwards
// (libcurl in the SMS plugins, the Redis or Postgres clients) gets the same minimum and the
// same cipher string, whatever /etc/ssl/openssl.cnf says about them.
#pragma once

namespace testino {

// Loads the settings, then checks on a throwaway server context that its minimum is TLS 1.2
// or later. Throws StartupError when either fails, so the server never serves TLS below it.
// Call before the listener's useSSL; calling it again is harmless.
void require_tls12_minimum();

// The least protocol version a new server context gets now (TLS1_2_VERSION = 0x0303), or 0
// when none is set (every version the library was built with); for the check and its tests.
int default_server_min_protocol();

}  // namespace testino
