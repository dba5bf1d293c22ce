"""Per-address token buckets for the TURN server's request flood guard, sans-I/O."""

from __future__ import annotations

from dataclasses import dataclass, field

Address = tuple[str, int]
MS_PER_S = 1000.0
IDLE_FORGET_MS = 1000.0  # a bucket idle this long is full again: forget it


@dataclass
class _Bucket:
    tokens: float
    stamp_ms: float


@dataclass
class RateLimiter:
    """``rate_per_s`` messages per second per source address, with a burst of one second."""

    rate_per_s: float
    buckets: dict[Address, _Bucket] = field(default_factory=dict)

    def allow(self, addr: Address, now_ms: float) -> bool:
        bucket = self.buckets.get(addr)
        if bucket is None:
            bucket = self.buckets[addr] = _Bucket(self.rate_per_s, now_ms)
        elapsed_ms = max(0.0, now_ms - bucket.stamp_ms)
        refill = elapsed_ms * self.rate_per_s / MS_PER_S
        bucket.tokens = min(self.rate_per_s, bucket.tokens + refill)
        bucket.stamp_ms = now_ms
        if bucket.tokens < 1.0:
            return False
        bucket.tokens -= 1.0
        return True

    def prune(self, now_ms: float) -> None:
        """Forget addresses idle long enough for their bucket to be full."""
        idle = [a for a, b in self.buckets.items() if now_ms - b.stamp_ms > IDLE_FORGET_MS]
        for addr in idle:
            del self.buckets[addr]
