// The cost of signing one access token with each algorithm, on one thread: what
// SigningKey::sign_jwt adds to verify-otp's request path. Not a test (ctest does not run
// it); bench/README.md says how to run it, bench/RESULTS.md has figures.
//
//   bench_token_signing [--tokens N] [--runs R]
//
// Each algorithm signs N tokens per run (RS256 N/20: it is two orders of magnitude
// slower), after one warm-up run; the table gives the median µs per token of R runs and
// its ratio to HS256 through SigningKey.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "domain/jwt_hs256.hpp"
#include "domain/otp_crypto.hpp"
#include "domain/signing_key.hpp"

namespace {

using testino::JwtAlgorithm;
using testino::JwtClaims;
using testino::SigningKey;

struct Row {
    std::string name;
    int tokens;
    std::function<std::size_t(const JwtClaims&)> sign;  // returns the token's size
};

// Claims as TokenIssuer makes them, with a jti from a ring made beforehand: the random
// jti is not part of the signing cost.
class Claims {
public:
    Claims() {
        for (int i = 0; i < 1024; ++i) jtis_.push_back(testino::random_hex(16));
    }
    JwtClaims next() {
        JwtClaims claims;
        claims.sub = "+12025550123";
        claims.iss = "testino-auth";
        claims.jti = jtis_[index_++ % jtis_.size()];
        claims.iat = 1700000000 + static_cast<long long>(index_);
        claims.exp = claims.iat + 3600;
        return claims;
    }

private:
    std::vector<std::string> jtis_;
    std::size_t index_ = 0;
};

double run_once(const Row& row, Claims& claims, std::size_t& sink) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < row.tokens; ++i) sink += row.sign(claims.next());
    const std::chrono::duration<double, std::micro> elapsed = std::chrono::steady_clock::now() - start;
    return elapsed.count() / row.tokens;
}

double median_us(const Row& row, int runs, Claims& claims, std::size_t& sink) {
    run_once(row, claims, sink);  // warm-up: caches, the per-thread HMAC context, the CPU clock
    std::vector<double> per_token;
    for (int i = 0; i < runs; ++i) per_token.push_back(run_once(row, claims, sink));
    std::sort(per_token.begin(), per_token.end());
    return per_token[per_token.size() / 2];
}

int parse_flag(int argc, char** argv, const char* flag, int fallback) {
    for (int i = 1; i + 1 < argc; ++i) {
        if (std::strcmp(argv[i], flag) == 0) return std::max(1, std::atoi(argv[i + 1]));
    }
    return fallback;
}

}  // namespace

int main(int argc, char** argv) {
    const int tokens = parse_flag(argc, argv, "--tokens", 20000);
    const int runs = parse_flag(argc, argv, "--runs", 5);
    const std::string secret = testino::random_hex(32);
    const SigningKey hs256 = SigningKey::from_secret("", secret);
    const SigningKey es256 = SigningKey::generate(JwtAlgorithm::es256, "");
    const SigningKey eddsa = SigningKey::generate(JwtAlgorithm::eddsa, "");
    const SigningKey rs256 = SigningKey::generate(JwtAlgorithm::rs256, "");
    auto with = [](const SigningKey& key) {
        return [&key](const JwtClaims& claims) { return key.sign_jwt(claims).size(); };
    };
    const std::vector<Row> rows = {
        {"HS256 (sign_hs256_jwt, no kid)", tokens,
         [&](const JwtClaims& claims) { return testino::sign_hs256_jwt(secret, claims).size(); }},
        {"HS256", tokens, with(hs256)},
        {"ES256 (P-256)", tokens, with(es256)},
        {"EdDSA (Ed25519)", tokens, with(eddsa)},
        {"RS256 (2048-bit)", std::max(1, tokens / 20), with(rs256)},
    };

    Claims claims;
    std::size_t sink = 0;
    std::vector<double> medians;
    for (const Row& row : rows) medians.push_back(median_us(row, runs, claims, sink));
    const double hs256_us = medians[1];

    std::printf("Token signing on one thread: median of %d runs after a warm-up run.\n\n", runs);
    std::printf("| algorithm | tokens per run | µs/token (median of %d) | × HS256 |\n", runs);
    std::printf("|---|---:|---:|---:|\n");
    for (std::size_t i = 0; i < rows.size(); ++i) {
        std::printf("| %s | %d | %.2f | %.1f |\n", rows[i].name.c_str(), rows[i].tokens, medians[i],
                    medians[i] / hs256_us);
    }
    std::printf("\n(%zu bytes signed in all)\n", sink);
    return 0;
}
