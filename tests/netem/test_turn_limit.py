"""The per-address request limiter."""

from __future__ import annotations

from netem.turn_limit import RateLimiter

A, B = ("127.0.0.1", 1), ("127.0.0.1", 2)


def test_burst_of_one_second_then_the_rate() -> None:
    limiter = RateLimiter(rate_per_s=10.0)
    assert [limiter.allow(A, 0.0) for _ in range(12)] == [True] * 10 + [False] * 2
    assert limiter.allow(B, 0.0)  # another address has its own bucket
    assert not limiter.allow(A, 50.0)  # half a token
    assert limiter.allow(A, 100.0)  # one token after 100 ms
    assert not limiter.allow(A, 100.0)
    allowed = sum(limiter.allow(A, 100.0 + t) for t in range(0, 10_000, 10))
    assert 95 <= allowed <= 101  # 10/s over 10 s


def test_prune_forgets_idle_addresses() -> None:
    limiter = RateLimiter(rate_per_s=10.0)
    limiter.allow(A, 0.0)
    limiter.allow(B, 900.0)
    limiter.prune(1500.0)
    assert set(limiter.buckets) == {B}
