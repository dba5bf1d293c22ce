"""What one call says and hears over signaling, with no I/O: events in, actions out.

Roles follow the room: the first member waits, the second makes the offer. The offerer's
first offer starts the call, and a later one (after the path died, see peer.restart_policy)
opens a new session on both sides; an answer names its session, so one for an attempt
already given up can be told apart. The other side's bye carries how many frames it sent.
The asyncio adapter (peer.call) feeds `joined`, `receive`, `closed`, and carries out the
actions; it asks this object what to send (`description`, `bye`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SendOffer:
    """Make an offer on the current session and send it."""


@dataclass(frozen=True)
class AcceptOffer:
    sdp: str
    source: Any  # the other side's SourceClock, as JSON, or None
    restart: bool  # a new session replaces the current one before the offer is taken
    session: int | None = None  # the offerer's number for it, which our answer then names


@dataclass(frozen=True)
class TakeAnswer:
    sdp: str
    source: Any
    session: int | None  # the session it answers (None: a peer that does not say)


@dataclass(frozen=True)
class AddCandidate:
    candidate: dict[str, Any] | None  # RTCIceCandidate.toJSON(); None: end of candidates


@dataclass(frozen=True)
class EndCall:
    reason: str
    failed: bool = False


@dataclass(frozen=True)
class Rejoin:
    """Find the signaling server again: media is peer to peer, the call goes on."""


@dataclass(frozen=True)
class Warn:
    text: str


Action = SendOffer | AcceptOffer | TakeAnswer | AddCandidate | EndCall | Rejoin | Warn


class CallSignaling:
    def __init__(self) -> None:
        self.remote_id: str | None = None
        self.offerer = False
        self.connected = False  # media flowed once: from then on, signaling may come and go
        self.remote_frames_sent: int | None = None
        self.remote_gone = False  # the other side said bye or left the room
        self._described = False  # a description was taken: the next offer is a restart

    def joined(self, peers: list[str]) -> list[Action]:
        """We are in the room; `peers` were there before us."""
        if not peers:
            return []
        self.remote_id, self.offerer = peers[0], True
        return [SendOffer()]

    def rejoined(self, peers: list[str]) -> list[Action]:
        """Back in the room after losing the server; the other side may have a new id."""
        if peers:
            self.remote_id = peers[0]
        return []

    def on_connected(self) -> None:
        self.connected = True

    def closed(self) -> list[Action]:
        """The signaling connection closed."""
        if not self.connected:
            return [EndCall("signaling connection closed before the call connected", True)]
        return [Rejoin()]

    def receive(self, message: dict[str, Any]) -> list[Action]:
        kind, sender = message.get("type"), message.get("from")
        if kind in ("offer", "answer"):
            sdp = message.get("sdp")
            if not isinstance(sdp, str):
                return [Warn(f"ignored an {kind} without an sdp string")]
            restart, self._described = self._described, True
            session = message.get("session")
            number = session if isinstance(session, int) and not isinstance(session, bool) else None
            if kind == "offer":
                self.remote_id = sender if isinstance(sender, str) else self.remote_id
                return [AcceptOffer(sdp, message.get("source"), restart, number)]
            return [TakeAnswer(sdp, message.get("source"), number)]
        if kind == "candidate":
            data = message.get("candidate")
            if data is not None and not isinstance(data, dict):
                return [Warn("ignored a candidate that is not an RTCIceCandidate object")]
            line = data.get("candidate") if data else None
            if line is not None and not isinstance(line, str):
                return [Warn("ignored a candidate whose candidate line is not a string")]
            return [AddCandidate(data if line else None)]
        if kind == "bye" and sender == self.remote_id:
            frames_sent = message.get("frames_sent")
            if isinstance(frames_sent, int) and not isinstance(frames_sent, bool):
                self.remote_frames_sent = frames_sent
            self.remote_gone = True
            return [EndCall("the other side hung up")]
        if kind == "peer-joined" and self.connected:
            peer = message.get("id")
            if isinstance(peer, str):
                self.remote_id = peer  # the other side, back after losing signaling
            return []
        if kind == "peer-left" and message.get("id") == self.remote_id:
            self.remote_gone = True
            return [EndCall("the other side left the room")]
        if kind == "error":
            return [Warn(f"signaling error {message.get('code')}: {message.get('message')}")]
        return []

    def description(self, kind: str, sdp: str, session: int, source: Any) -> dict[str, Any]:
        """The offer or answer to send for `session`, with our SourceClock (JSON) if any."""
        message: dict[str, Any] = {"type": kind, "sdp": sdp, "to": self.remote_id,
                                   "session": session}
        if source is not None:
            message["source"] = source
        return message

    def bye(self, frames_sent: int) -> dict[str, Any] | None:
        """The bye to send at hang-up; None when there is nobody to say it to."""
        if self.remote_id is None:
            return None
        return {"type": "bye", "to": self.remote_id, "frames_sent": frames_sent}
