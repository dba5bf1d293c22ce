"""Paths: every path of a direction crosses that direction's one link, made on demand."""

from __future__ import annotations

from netem.turn_paths import Direction, Paths, Relayed

X, Y, Z = ("127.0.0.1", 1), ("127.0.0.1", 2), ("127.0.0.1", 3)


class Hold:
    """A link that releases what it holds at a fixed time."""

    def __init__(self, direction: Direction, now_ms: float) -> None:
        self.direction, self.created_ms = direction, now_ms
        self.items: list[object] = []

    def enqueue(self, size_bytes: int, payload: object, now_ms: float) -> None:
        self.items.append(payload)

    def deliveries(self, now_ms: float) -> list[object]:
        out, self.items = self.items, []
        return out

    def next_event_time(self) -> float | None:
        return self.created_ms + 100.0 if self.items else None


def test_one_link_per_direction_serves_every_path() -> None:
    made: list[Hold] = []

    def factory(direction: Direction, now_ms: float) -> Hold:
        made.append(Hold(direction, now_ms))
        return made[-1]

    paths = Paths(factory)
    assert paths.next_event_time() is None
    up = Relayed(False, X, Y, b"up")
    paths.send(X, Y, Direction.UP, up, 5.0)
    assert len(made) == 1 and len(paths) == 1
    assert made[0].direction is Direction.UP and made[0].items == [up]
    assert paths.next_event_time() == 105.0
    assert paths.deliveries(104.0) == []
    assert paths.deliveries(105.0) == [up]
    assert paths.next_event_time() is None
    second = Relayed(False, Z, Y, b"second path")
    paths.send(X, Y, Direction.UP, up, 6.0)
    paths.send(Z, Y, Direction.UP, second, 7.0)  # a second path: the same queue
    assert len(made) == 1 and len(paths) == 2 and made[0].items == [up, second]
    down = Relayed(True, X, Z, b"d")
    paths.send(X, Z, Direction.DOWN, down, 8.0)
    assert len(made) == 2 and made[1].direction is Direction.DOWN and len(paths) == 3
    paths.forget(Z)  # its paths go; what they left queued is still on the link
    assert len(paths) == 1
    assert paths.deliveries(108.0) == [up, second, down]
    assert paths.next_event_time() is None
