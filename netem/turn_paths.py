"""Which emulated link a relayed datagram crosses, sans-I/O.

Endpoints are transport addresses: an allocation is named by its relayed address, a peer
outside this server by its own address. A *path* is an ordered pair of endpoints
``(first, second)`` with two links of its own, made on the path's first datagram by a
:class:`LinkFactory`: ``Direction.UP`` carries what ``first`` sends to ``second`` and
``Direction.DOWN`` the reverse. ``netem.turn`` decides the order (older allocation first;
an allocation before an outside peer).

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
        """A fresh link (queue) for one direction of a new path that carries its first
        datagram at ``now_ms`` (the relay's links then share one trace clock per direction)."""
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
    """The links of every path, and when each next needs the clock (cached: a link's next
    event changes only when it is fed or drained, so idle links cost nothing per packet)."""

    def __init__(self, factory: LinkFactory) -> None:
        self._factory = factory
        self._links: dict[tuple[Address, Address], dict[Direction, PathLink]] = {}
        self._due: dict[PathLink, float | None] = {}

    def __len__(self) -> int:
        return len(self._links)

    def link(
        self, first: Address, second: Address, direction: Direction, now_ms: float
    ) -> PathLink:
        pair = self._links.get((first, second))
        if pair is None:
            pair = {d: self._factory(d, now_ms) for d in Direction}
            self._links[(first, second)] = pair
            for link in pair.values():
                self._due[link] = None
        return pair[direction]

    def send(
        self, first: Address, second: Address, direction: Direction, item: Relayed, now_ms: float
    ) -> None:
        link = self.link(first, second, direction, now_ms)
        link.enqueue(len(item.data), item, now_ms)
        self._due[link] = link.next_event_time()

    def deliveries(self, now_ms: float) -> list[Relayed]:
        out: list[Relayed] = []
        due = self._due
        for link in [k for k, t in due.items() if t is not None and t <= now_ms]:
            for item in link.deliveries(now_ms):
                if isinstance(item, Relayed):
                    out.append(item)
            due[link] = link.next_event_time()
        return out

    def next_event_time(self) -> float | None:
        times = [t for t in self._due.values() if t is not None]
        return min(times) if times else None

    def forget(self, endpoint: Address) -> None:
        """Drop the paths (and what they still hold) that start or end at ``endpoint``."""
        for key in [k for k in self._links if endpoint in k]:
            for link in self._links.pop(key).values():
                del self._due[link]
