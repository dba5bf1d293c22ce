"""Long-term credentials: nonces, keys and the outcome of checking a request."""

from __future__ import annotations

from aioice import stun

from netem.turn_auth import AuthOutcome, LongTermAuth, make_integrity_key

AUTH = LongTermAuth(users={"alice": "pw"}, realm="r", nonce_lifetime_ms=10_000.0)


def signed(user: str = "alice", password: str = "pw", realm: str = "r",
           nonce: bytes | None = None) -> stun.Message:
    msg = stun.Message(stun.Method.ALLOCATE, stun.Class.REQUEST)
    msg.attributes.update(USERNAME=user, REALM=realm, NONCE=nonce or AUTH.make_nonce(0.0))
    msg.add_message_integrity(make_integrity_key(user, realm, password))
    # what the server sees is the parsed wire form
    return stun.parse_message(bytes(msg))


def test_key_is_md5_of_user_realm_password() -> None:
    # RFC 8489 section 9.2.2: MD5("user:realm:pass")
    assert make_integrity_key("user", "realm", "pass").hex() == "8493fbc53ba582fb4c044c456bdc40eb"


def test_nonce_is_fresh_until_its_lifetime_and_cannot_be_forged() -> None:
    nonce = AUTH.make_nonce(1_000.0)
    assert AUTH.nonce_is_fresh(nonce, 1_000.0)
    assert AUTH.nonce_is_fresh(nonce, 11_000.0)
    assert not AUTH.nonce_is_fresh(nonce, 11_001.0)
    assert not AUTH.nonce_is_fresh(b"3e8-0000000000000000", 1_000.0)
    assert not AUTH.nonce_is_fresh(b"garbage", 1_000.0)
    other = LongTermAuth(users={"alice": "pw"}, realm="r")
    assert not other.nonce_is_fresh(nonce, 1_000.0)  # another server's secret


def test_outcomes() -> None:
    unsigned = stun.Message(stun.Method.ALLOCATE, stun.Class.REQUEST)
    assert AUTH.check(unsigned, 0.0).outcome is AuthOutcome.CHALLENGE
    ok = AUTH.check(signed(), 5.0)
    assert ok.outcome is AuthOutcome.OK and ok.username == "alice"
    assert ok.key == make_integrity_key("alice", "r", "pw")
    assert AUTH.check(signed(password="bad"), 5.0).outcome is AuthOutcome.REJECTED
    assert AUTH.check(signed(user="bob"), 5.0).outcome is AuthOutcome.REJECTED
    assert AUTH.check(signed(realm="other"), 5.0).outcome is AuthOutcome.REJECTED
    assert AUTH.check(signed(), 20_000.0).outcome is AuthOutcome.STALE_NONCE
    no_realm = stun.Message(stun.Method.ALLOCATE, stun.Class.REQUEST)
    no_realm.attributes.update(USERNAME="alice", NONCE=AUTH.make_nonce(0.0))
    no_realm.add_message_integrity(b"k")
    assert AUTH.check(stun.parse_message(bytes(no_realm)), 0.0).outcome is AuthOutcome.BAD_REQUEST
