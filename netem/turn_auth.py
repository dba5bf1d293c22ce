"""Long-term credentials for the TURN server (RFC 8489 section 9.2), sans-I/O.

The server keeps no per-client nonce state: a nonce is the hex time it was issued plus an
HMAC of that time under a per-server secret, so any nonce the server made can be checked
and aged with nothing but the clock passed in (``now_ms``).

Outcomes of :meth:`LongTermAuth.check`, mapped to the answers of RFC 8489/8656:

* no MESSAGE-INTEGRITY at all: ``CHALLENGE`` -> 401 with REALM and NONCE;
* USERNAME, REALM or NONCE missing next to MESSAGE-INTEGRITY: ``BAD_REQUEST`` -> 400;
* a nonce this server did not make, or older than ``nonce_lifetime_ms``: ``STALE_NONCE``
  -> 438 with a fresh NONCE (the client retries at once);
* unknown user, other realm, or MESSAGE-INTEGRITY that does not verify: ``REJECTED`` -> 401
  with REALM and NONCE (RFC 8489 9.2.4; 441 is kept for a request that names another user
  than the one that made the allocation, see ``netem.turn``).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from aioice import stun

NONCE_LIFETIME_MS_DEFAULT = 3_600_000.0
NONCE_MAC_BYTES = 8


def make_integrity_key(username: str, realm: str, password: str) -> bytes:
    """The long-term key: MD5(username ":" realm ":" password) (RFC 8489 section 9.2.2)."""
    return hashlib.md5(f"{username}:{realm}:{password}".encode()).digest()


class AuthOutcome(enum.Enum):
    OK = "ok"
    CHALLENGE = "challenge"
    BAD_REQUEST = "bad-request"
    STALE_NONCE = "stale-nonce"
    REJECTED = "rejected"


@dataclass(frozen=True)
class AuthResult:
    outcome: AuthOutcome
    username: str | None = None
    key: bytes | None = None


@dataclass(frozen=True)
class LongTermAuth:
    """Checks requests against a fixed user table for one realm.

    ``users`` maps user name to password. ``secret`` signs nonces; by default a random one
    per server, so nonces of an earlier run are stale.
    """

    users: Mapping[str, str]
    realm: str = "netem"
    nonce_lifetime_ms: float = NONCE_LIFETIME_MS_DEFAULT
    secret: bytes = field(default_factory=lambda: os.urandom(16))

    def make_nonce(self, now_ms: float) -> bytes:
        stamp = f"{int(now_ms):x}".encode()
        mac = hmac.new(self.secret, stamp, "sha256").hexdigest()[: 2 * NONCE_MAC_BYTES]
        return stamp + b"-" + mac.encode()

    def nonce_is_fresh(self, nonce: bytes, now_ms: float) -> bool:
        stamp, sep, mac = nonce.partition(b"-")
        if not sep:
            return False
        expected = hmac.new(self.secret, stamp, "sha256").hexdigest()[: 2 * NONCE_MAC_BYTES]
        if not hmac.compare_digest(mac, expected.encode()):
            return False
        try:
            issued_ms = int(stamp, 16)
        except ValueError:
            return False
        return 0 <= now_ms - issued_ms <= self.nonce_lifetime_ms

    def key_for(self, username: str) -> bytes | None:
        password = self.users.get(username)
        if password is None:
            return None
        return make_integrity_key(username, self.realm, password)

    def check(self, message: stun.Message, now_ms: float) -> AuthResult:
        attrs = message.attributes
        if "MESSAGE-INTEGRITY" not in attrs:
            return AuthResult(AuthOutcome.CHALLENGE)
        username, realm, nonce = attrs.get("USERNAME"), attrs.get("REALM"), attrs.get("NONCE")
        if username is None or realm is None or nonce is None:
            return AuthResult(AuthOutcome.BAD_REQUEST)
        if not self.nonce_is_fresh(nonce, now_ms):
            return AuthResult(AuthOutcome.STALE_NONCE)
        key = self.key_for(username)
        if realm != self.realm or key is None or not message.check_message_integrity(key):
            return AuthResult(AuthOutcome.REJECTED, username=username)
        return AuthResult(AuthOutcome.OK, username=username, key=key)
