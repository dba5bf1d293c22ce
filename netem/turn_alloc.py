"""State of one TURN allocation: lifetime, permissions and channel bindings (RFC 8656).

Plain data with expiry times in ms on the caller's clock; nothing here reads a clock.
Permissions are per peer IP address (ports are ignored, RFC 8656 section 9); a channel
binds a number in 0x4000-0x4FFF to one peer transport address and also installs or
refreshes the permission for that peer's IP (section 12).

One deliberate leniency: a live channel binding keeps data flowing to and from its own peer
even after the permission lapses. aioice refreshes channel bindings every 500 s and never
sends CreatePermission, so with the strict rule an aiortc call through a TURN server that
expires permissions after 300 s goes silent after five minutes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Address = tuple[str, int]

ALLOCATION_LIFETIME_S_DEFAULT = 600
ALLOCATION_LIFETIME_S_MAX = 3600
PERMISSION_LIFETIME_S = 300
CHANNEL_LIFETIME_S = 600
CHANNEL_NUMBER_MIN = 0x4000
CHANNEL_NUMBER_MAX = 0x4FFF
MS_PER_S = 1000.0


def granted_lifetime_s(requested_s: int | None, default_s: int, max_s: int) -> int:
    """RFC 8656 section 7.2: min(requested, max), but never below the default."""
    if requested_s is None:
        return default_s
    return max(default_s, min(requested_s, max_s))


@dataclass
class Allocation:
    """One allocation, keyed by the client's transport address (the 5-tuple on one socket)."""

    seq: int
    client: Address
    relayed: Address
    username: str
    key: bytes
    expires_ms: float
    allocate_transaction: bytes
    lifetime_s: int
    permissions: dict[str, float] = field(default_factory=dict)
    channels: dict[int, tuple[Address, float]] = field(default_factory=dict)
    peer_channels: dict[Address, int] = field(default_factory=dict)

    def expired(self, now_ms: float) -> bool:
        return now_ms >= self.expires_ms

    def permit(self, peer_ip: str, now_ms: float, lifetime_s: int = PERMISSION_LIFETIME_S) -> None:
        self.permissions[peer_ip] = now_ms + lifetime_s * MS_PER_S

    def permitted(self, peer_ip: str, now_ms: float) -> bool:
        expires = self.permissions.get(peer_ip)
        return expires is not None and now_ms < expires

    def reachable(self, peer: Address, now_ms: float) -> bool:
        """May data flow between this allocation and ``peer``: a permission for its IP, or a
        live channel bound to it (see the module docstring)."""
        expires = self.permissions.get(peer[0])
        if expires is not None and now_ms < expires:
            return True
        return self.channel_for(peer, now_ms) is not None

    def can_bind(self, channel: int, peer: Address) -> bool:
        """A number may be (re)bound only to its own peer, and a peer to one number."""
        if not CHANNEL_NUMBER_MIN <= channel <= CHANNEL_NUMBER_MAX:
            return False
        bound = self.channels.get(channel)
        if bound is not None and bound[0] != peer:
            return False
        other = self.peer_channels.get(peer)
        return other is None or other == channel

    def bind(self, channel: int, peer: Address, now_ms: float, lifetime_s: int) -> None:
        self.channels[channel] = (peer, now_ms + lifetime_s * MS_PER_S)
        self.peer_channels[peer] = channel

    def channel_peer(self, channel: int, now_ms: float) -> Address | None:
        bound = self.channels.get(channel)
        if bound is None or now_ms >= bound[1]:
            return None
        return bound[0]

    def channel_for(self, peer: Address, now_ms: float) -> int | None:
        channel = self.peer_channels.get(peer)
        if channel is None or self.channel_peer(channel, now_ms) is None:
            return None
        return channel

    def expire(self, now_ms: float) -> None:
        """Forget permissions and channels whose time is up."""
        for ip in [ip for ip, t in self.permissions.items() if now_ms >= t]:
            del self.permissions[ip]
        for channel in [c for c, (_, t) in self.channels.items() if now_ms >= t]:
            peer, _ = self.channels.pop(channel)
            self.peer_channels.pop(peer, None)
