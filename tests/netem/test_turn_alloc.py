"""Allocation state: lifetimes, permissions per IP, channel bindings."""

from __future__ import annotations

from netem.turn_alloc import Allocation, granted_lifetime_s

PEER = ("10.0.0.1", 5000)


def make() -> Allocation:
    return Allocation(
        seq=1, client=("127.0.0.1", 1), relayed=("127.0.0.1", 2), username="u", key=b"k",
        expires_ms=600_000.0, allocate_transaction=b"t" * 12, lifetime_s=600,
    )


def test_granted_lifetime() -> None:
    assert granted_lifetime_s(None, 600, 3600) == 600
    assert granted_lifetime_s(60, 600, 3600) == 600  # never below the default
    assert granted_lifetime_s(1200, 600, 3600) == 1200
    assert granted_lifetime_s(10**9, 600, 3600) == 3600


def test_permission_is_per_ip_and_expires() -> None:
    a = make()
    a.permit("10.0.0.1", 0.0, 300)
    assert a.permitted("10.0.0.1", 299_999.0)
    assert not a.permitted("10.0.0.1", 300_000.0)
    assert not a.permitted("10.0.0.2", 1.0)
    a.expire(300_000.0)
    assert a.permissions == {}
    assert a.expired(600_000.0) and not a.expired(599_999.0)


def test_channel_binding_rules_and_expiry() -> None:
    a = make()
    assert not a.can_bind(0x3FFF, PEER) and not a.can_bind(0x5000, PEER)
    assert a.can_bind(0x4000, PEER)
    a.bind(0x4000, PEER, 0.0, 600)
    assert a.can_bind(0x4000, PEER)  # refresh
    assert not a.can_bind(0x4000, ("10.0.0.1", 5001))  # the number is taken
    assert not a.can_bind(0x4001, PEER)  # the peer has a number
    assert a.channel_peer(0x4000, 599_999.0) == PEER
    assert a.channel_for(PEER, 1.0) == 0x4000
    assert a.channel_peer(0x4000, 600_000.0) is None
    a.expire(600_000.0)
    assert a.channels == {} and a.peer_channels == {}
    assert a.can_bind(0x4001, PEER)


def test_a_live_channel_makes_its_peer_reachable() -> None:
    a = make()
    a.bind(0x4000, PEER, 0.0, 600)
    a.permit(PEER[0], 0.0, 300)
    assert a.reachable(("10.0.0.1", 9), 1.0)  # any port while the permission holds
    assert a.reachable(PEER, 400_000.0) and not a.reachable(("10.0.0.1", 9), 400_000.0)
    assert not a.reachable(PEER, 600_000.0)
