from __future__ import annotations

import pytest

from signaling.protocol import ErrorCode, ProtocolError
from signaling.rooms import Rooms


def test_join_returns_members_in_arrival_order_and_enforces_capacity() -> None:
    rooms = Rooms(capacity=3)
    assert rooms.join("r", "a") == []
    assert rooms.join("r", "b") == ["a"]
    assert rooms.join("r", "c") == ["a", "b"]
    with pytest.raises(ProtocolError) as raised:
        rooms.join("r", "d")
    assert raised.value.code == ErrorCode.ROOM_FULL
    with pytest.raises(ProtocolError) as raised:
        rooms.join("r", "a")
    assert raised.value.code == ErrorCode.ALREADY_JOINED


def test_leave_frees_places_and_forgets_empty_rooms() -> None:
    rooms = Rooms(capacity=2)
    rooms.join("r", "a")
    rooms.join("r", "b")
    assert rooms.leave("r", "a") == ["b"]
    assert rooms.leave("r", "a") == ["b"]  # twice is harmless
    assert rooms.join("r", "c") == ["b"]
    rooms.leave("r", "b")
    rooms.leave("r", "c")
    assert len(rooms) == 0 and rooms.members == {}


def test_recipients() -> None:
    rooms = Rooms(capacity=3)
    for member in "abc":
        rooms.join("r", member)
    rooms.join("other", "z")
    assert rooms.recipients("r", "a", None) == ["b", "c"]
    assert rooms.recipients("r", "a", "c") == ["c"]
    for to in ("a", "z", "nobody"):
        with pytest.raises(ProtocolError) as raised:
            rooms.recipients("r", "a", to)
        assert raised.value.code == ErrorCode.NO_SUCH_PEER
