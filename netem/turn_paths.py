"""Which emulated link a relayed datagram crosses, sans-I/O.

Endpoints are transport addresses: an allocation is named by its relayed address, a peer
outside this server by its own address. A *path* is an ordered pair of endpoints
``(first, second)``: ``Direction.UP`` carries what ``first`` sends to ``second`` and
``Direction.DOWN`` the reverse. ``netem.turn`` decides the order (older allocation first;
an allocation before an outside peer).

Every path of a direction crosses one link (one queue), made by a :class:`LinkFactory` on the
direction's first datagram: the emulated link is the access network that all of a call's
candidate pairs leave by, as on a phone's one cellular link. A second pair (a browser's
switch during an outage, an ICE restart) waits behind what the first left queued. With a
queue per path, Chromium's media on ATT-LTE-driving overtook up to 800 KB of its own
backlog by switching pairs, gaining up to 8 s in real calls, while our peer, which keeps
one pair, never did: the two did not cross the same link.

The payload riding a link is a :class:`Relayed` item; the link only sees its size.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

Address = tuple[str, int]


class Direction(enum.Enum):
    UP = "up"
    DOWN = "down"


class PathLink(Protocol):
    """What the TURN core needs from a link (``netem.relay_meter.MeteredLink`` is the real one)."""

    def enqueue(self, size_bytes: int, payload: object, now_ms: float) -> None: ...

    def deliveries(self, now_ms: float) -> list[object]: ...

    def next_event_time(self) -> float | None: ...


class LinkFactory(Protocol):
    def __call__(self, direction: Direction, now_ms: float) -> PathLink:
        """The link (queue) of one direction, made when its first datagram comes at
        ``now_ms``."""
        ...


@dataclass(frozen=True, slots=True)
class Relayed:
    """A datagram in flight: ``relayed`` is the allocation it leaves by (``to_client`` false)
    or arrives at (``to_client`` true); ``peer`` is the other end as the peer sees it."""

    to_client: bool
    relayed: Address
    peer: Address
    data: bytes


class Paths:
    """The paths seen so far and the one link per direction they all cross, and when that
    link next needs the clock (cached: a link's next event changes only when it is fed or
    drained, so an idle link costs nothing per packet)."""

    def __init__(self, factory: LinkFactory) -> None:
        self._factory = factory
        self._pairs: set[tuple[Address, Address]] = set()
        self._links: dict[Direction, PathLink] = {}
        self._due: dict[Direction, float | None] = {}

    def __len__(self) -> int:
        return len(self._pairs)

    def link(
        self, first: Address, second: Address, direction: Direction, now_ms: float
    ) -> PathLink:
        self._pairs.add((first, second))
        link = self._links.get(direction)
        if link is None:
            link = self._links[direction] = self._factory(direction, now_ms)
            self._due[direction] = None
        return link

    def send(
        self, first: Address, second: Address, direction: Direction, item: Relayed, now_ms: float
    ) -> None:
        link = self.link(first, second, direction, now_ms)
        link.enqueue(len(item.data), item, now_ms)
        self._due[direction] = link.next_event_time()

    def deliveries(self, now_ms: float) -> list[Relayed]:
        out: list[Relayed] = []
        due = self._due
        for direction in [d for d, t in due.items() if t is not None and t <= now_ms]:
            link = self._links[direction]
            for item in link.deliveries(now_ms):
                if isinstance(item, Relayed):
                    out.append(item)
            due[direction] = link.next_event_time()
        return out

    def next_event_time(self) -> float | None:
        times = [t for t in self._due.values() if t is not None]
        return min(times) if times else None

    def forget(self, endpoint: Address) -> None:
        """Forget the paths that start or end at ``endpoint``. What they left queued stays on
        the link, as packets already sent do (``netem.turn`` counts those it cannot deliver
        as ``no_allocation``)."""
        self._pairs = {pair for pair in self._pairs if endpoint not in pair}
