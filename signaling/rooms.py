"""Who is in which room: plain state with a capacity, no I/O (the in-memory backend's core)."""

from __future__ import annotations

from dataclasses import dataclass, field

from signaling.protocol import EXCERPT_CHARS, ErrorCode, ProtocolError


@dataclass
class Rooms:
    capacity: int
    members: dict[str, list[str]] = field(default_factory=dict)

    def join(self, room: str, member: str) -> list[str]:
        """Add `member` to `room`; returns the members already there (in arrival order)."""
        present = self.members.get(room, [])
        if member in present:
            raise ProtocolError(ErrorCode.ALREADY_JOINED, f"already in room {room!r}")
        if len(present) >= self.capacity:
            raise ProtocolError(
                ErrorCode.ROOM_FULL,
                f"room {room!r} is full ({self.capacity} members); pick another room",
            )
        others = list(present)
        self.members[room] = [*present, member]
        return others

    def leave(self, room: str, member: str) -> list[str]:
        """Remove `member`; returns who is left. Leaving twice is harmless."""
        present = [m for m in self.members.get(room, []) if m != member]
        if present:
            self.members[room] = present
        else:
            self.members.pop(room, None)
        return present

    def recipients(self, room: str, sender: str, to: str | None) -> list[str]:
        """Who gets a message from `sender`: everyone else, or only `to`."""
        present = self.members.get(room, [])
        if to is None:
            return [m for m in present if m != sender]
        if to == sender or to not in present:
            raise ProtocolError(
                ErrorCode.NO_SUCH_PEER,
                f"no other member {to[:EXCERPT_CHARS]!r} in room {room!r}; "
                "use an id from joined/peer-joined",
            )
        return [to]

    def __len__(self) -> int:
        return len(self.members)
