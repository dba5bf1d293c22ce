"""Admission tokens: HMAC-SHA256-signed, expiring, bound to one room (or "*" for any).

    token = "v1." + base64url(JSON {"r": ROOM, "e": EXPIRY_UNIX_S}) + "." + base64url(HMAC)

where HMAC = HMAC-SHA256(secret, "v1." + payload part). Mint one with
`python -m signaling.tokens --room R --ttl-s 3600` (secret from $SIGNALING_TOKEN_SECRET or
--secret); the server checks them when started with --token-secret.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import hmac
import json
import os
import sys
import time

TOKEN_PREFIX = "v1."
ANY_ROOM = "*"
SECRET_ENV = "SIGNALING_TOKEN_SECRET"


class TokenError(Exception):
    """The token is missing, malformed, forged, expired or for another room; says which."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret: str, signed: str) -> str:
    return _b64(hmac.new(secret.encode(), signed.encode(), hashlib.sha256).digest())


def mint_token(secret: str, room: str, ttl_s: float, now_s: float) -> str:
    """A token admitting its bearer to `room` until now_s + ttl_s (unix seconds)."""
    if not secret:
        raise ValueError("the token secret must not be empty")
    payload = _b64(json.dumps({"r": room, "e": int(now_s + ttl_s)}).encode())
    signed = TOKEN_PREFIX + payload
    return f"{signed}.{_signature(secret, signed)}"


def verify_token(secret: str, token: str | None, room: str, now_s: float) -> None:
    """Raise TokenError unless `token` admits its bearer to `room` at now_s (unix seconds)."""
    if not token:
        raise TokenError('this server needs a "token" in join; ask the room owner for a link')
    signed, _, signature = token.rpartition(".")
    if not signed.startswith(TOKEN_PREFIX) or not signature:
        raise TokenError("the token is malformed; mint a new one")
    if not hmac.compare_digest(_signature(secret, signed), signature):
        raise TokenError("the token's signature is wrong; mint a new one with the server's secret")
    try:
        claims = json.loads(_unb64(signed[len(TOKEN_PREFIX):]))
        token_room, expiry_s = claims["r"], float(claims["e"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise TokenError("the token's contents are malformed; mint a new one") from None
    if token_room not in (room, ANY_ROOM):
        raise TokenError(f"the token is for room {str(token_room)[:40]!r}, not {room!r}")
    if now_s >= expiry_s:
        raise TokenError("the token has expired; mint a new one")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m signaling.tokens", description="Mint a room admission token."
    )
    parser.add_argument("--room", required=True, help='room name, or "*" for any room')
    parser.add_argument("--ttl-s", type=float, default=3600.0, help="lifetime (default 3600 s)")
    parser.add_argument("--secret", help=f"HMAC secret (default: ${SECRET_ENV})")
    args = parser.parse_args(argv)
    secret = args.secret or os.environ.get(SECRET_ENV)
    if not secret:
        print(f"tokens: no secret; pass --secret or set {SECRET_ENV}", file=sys.stderr)
        return 2
    if args.ttl_s <= 0:
        print("tokens: --ttl-s must be positive", file=sys.stderr)
        return 2
    print(mint_token(secret, args.room, args.ttl_s, time.time()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
