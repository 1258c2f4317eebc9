#!/usr/bin/python3
"""An independent verifier of Testino's access tokens: PyJWT (Debian's python3-jwt with
python3-cryptography) fetching the server's JWKS, as another service would.

    pyjwt_verify.py JWKS_URL TOKEN ISSUER [--alter kid|payload|alg-none] [--later SECONDS]

--alter changes the token first (a wrong kid, a tampered payload, "alg": "none"); --later
checks it as if SECONDS had passed. Prints one line, "verified <sub>" or "refused <reason>",
and exits 0 or 1. Only loopback URLs are fetched.
"""
import argparse
import base64
import datetime
import json
import sys
import urllib.parse

import jwt
import jwt.api_jwt

ALGORITHMS = ["ES256", "EdDSA", "RS256"]  # never HS256 or none: the keys are public


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def alter(token: str, how: str) -> str:
    header, payload, signature = token.split(".")
    h = json.loads(unb64(header))
    if how == "kid":
        h["kid"] = h["kid"] + "-not-published"
        return ".".join([b64(json.dumps(h).encode()), payload, signature])
    if how == "payload":
        p = json.loads(unb64(payload))
        p["sub"] = "+19995550100"
        return ".".join([header, b64(json.dumps(p).encode()), signature])
    if how == "alg-none":
        h["alg"] = "none"
        return ".".join([b64(json.dumps(h).encode()), payload, ""])
    raise SystemExit("unknown --alter " + how)


def move_clock(seconds: int) -> None:
    """PyJWT's clock (datetime.now in jwt.api_jwt), `seconds` ahead of the real one."""
    real = datetime.datetime

    class Later(real):
        @classmethod
        def now(cls, tz=None):
            return real.now(tz) + datetime.timedelta(seconds=seconds)

    jwt.api_jwt.datetime = Later


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("jwks_url")
    parser.add_argument("token")
    parser.add_argument("issuer")
    parser.add_argument("--alter", choices=["kid", "payload", "alg-none"])
    parser.add_argument("--later", type=int, default=0)
    args = parser.parse_args()
    host = urllib.parse.urlparse(args.jwks_url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("refusing to fetch a non-loopback URL: " + args.jwks_url)
    token = alter(args.token, args.alter) if args.alter else args.token
    if args.later:
        move_clock(args.later)
    try:
        client = jwt.PyJWKClient(args.jwks_url, cache_keys=False)
        key = client.get_signing_key_from_jwt(token)
        claims = jwt.decode(token, key.key, algorithms=ALGORITHMS, issuer=args.issuer,
                            options={"require": ["exp", "iat", "sub", "iss"]})
    except Exception as e:  # every refusal is a PyJWT (or key lookup) exception
        print("refused", type(e).__name__, str(e).replace("\n", " "))
        return 1
    print("verified", claims["sub"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
