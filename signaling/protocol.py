"""The signaling protocol: JSON text frames over one WebSocket per client (no I/O here).

The full description, with examples, is in signaling/PROTOCOL.md. In short:

Client → server:
  {"type": "join", "room": R, ["v": 1], ["token": T]}   enter room R (once per socket)
  {"type": "offer"|"answer"|"candidate"|"bye", ...}      relayed to the other members of the
                                                          room, or only to member "to" when
                                                          given; the server adds "from" and
                                                          keeps every other field as sent
  {"type": "ping", ...}                                   answered by {"type": "pong", ...}
Server → client:
  {"type": "joined", "v": 1, "room": R, "id": ID, "peers": [ID, ...]}
  {"type": "peer-joined", "id": ID}
  {"type": "peer-left", "id": ID}
  {"type": "error", "code": CODE, "message": TEXT}       for anything refused

Error codes are stable strings (`ErrorCode`), close codes stable numbers (`CloseCode`); tests
and clients match on them.
"""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass
from typing import Any

PROTOCOL_VERSION = 1
RELAYED_TYPES = frozenset({"offer", "answer", "candidate", "bye"})
ROOM_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,64}")
MEMBER_ID_MAX_CHARS = 64
TOKEN_MAX_CHARS = 1024
EXCERPT_CHARS = 40


class ErrorCode(enum.StrEnum):
    BAD_JSON = "bad-json"
    BAD_MESSAGE = "bad-message"
    UNKNOWN_TYPE = "unknown-type"
    UNSUPPORTED_VERSION = "unsupported-version"
    NOT_JOINED = "not-joined"
    ALREADY_JOINED = "already-joined"
    ROOM_FULL = "room-full"
    NO_SUCH_PEER = "no-such-peer"
    BAD_TOKEN = "bad-token"
    JOIN_TIMEOUT = "join-timeout"
    SHUTDOWN = "shutdown"
    UNAVAILABLE = "unavailable"


class CloseCode(enum.IntEnum):
    """WebSocket close codes the server uses; 4000-4999 are ours (RFC 6455 §7.4.2)."""

    GOING_AWAY = 1001  # server shutting down (after an error frame with code "shutdown")
    MESSAGE_TOO_BIG = 1009  # a frame over the message size limit
    JOIN_TIMEOUT = 4000  # no join within the join timeout (after a "join-timeout" error frame)
    SLOW_CONSUMER = 4001  # the client read too slowly: its send queue overflowed


class ProtocolError(Exception):
    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def frame(self) -> dict[str, Any]:
        return error_frame(self.code, self.message)


def error_frame(code: ErrorCode, message: str) -> dict[str, Any]:
    return {"type": "error", "code": str(code), "message": message}


@dataclass(frozen=True)
class Join:
    room: str
    token: str | None = None


@dataclass(frozen=True)
class Relay:
    """A message for other members: its fields as sent, and the one member it is for."""

    kind: str
    fields: dict[str, Any]
    to: str | None


@dataclass(frozen=True)
class Ping:
    fields: dict[str, Any]


ClientMessage = Join | Relay | Ping


def _excerpt(value: object) -> str:
    return repr(value)[:EXCERPT_CHARS]


def _bad(message: str) -> ProtocolError:
    return ProtocolError(ErrorCode.BAD_MESSAGE, message)


def _parse_join(message: dict[str, Any]) -> Join:
    version = message.get("v", PROTOCOL_VERSION)
    if isinstance(version, bool) or not isinstance(version, int):
        raise _bad(f'"v" must be an integer protocol version, got {_excerpt(version)}')
    if version != PROTOCOL_VERSION:
        raise ProtocolError(
            ErrorCode.UNSUPPORTED_VERSION,
            f"protocol version {version} is not supported; this server speaks v{PROTOCOL_VERSION}",
        )
    room = message.get("room")
    if not isinstance(room, str) or not ROOM_PATTERN.fullmatch(room):
        raise _bad('"room" must be 1-64 characters of letters, digits, "_", "-" or "."')
    token = message.get("token")
    if token is not None and (not isinstance(token, str) or len(token) > TOKEN_MAX_CHARS):
        raise _bad(f'"token" must be a string of at most {TOKEN_MAX_CHARS} characters')
    return Join(room, token)


def _check_candidate(message: dict[str, Any]) -> None:
    candidate = message.get("candidate")
    if candidate is None or isinstance(candidate, str):
        return  # absent/null: end of candidates; a bare string: the candidate line
    if not isinstance(candidate, dict):
        raise _bad('"candidate" must be an object like RTCIceCandidate.toJSON(), or null')
    line = candidate.get("candidate")
    if line is not None and not isinstance(line, str):
        raise _bad('"candidate.candidate" must be the candidate line as a string')
    mid = candidate.get("sdpMid")
    if mid is not None and not isinstance(mid, str):
        raise _bad('"candidate.sdpMid" must be a string or null')
    index = candidate.get("sdpMLineIndex")
    if index is not None and (isinstance(index, bool) or not isinstance(index, int) or index < 0):
        raise _bad('"candidate.sdpMLineIndex" must be a non-negative integer or null')


def _parse_relay(kind: str, message: dict[str, Any]) -> Relay:
    to = message.get("to")
    if to is not None and (not isinstance(to, str) or not 0 < len(to) <= MEMBER_ID_MAX_CHARS):
        raise _bad('"to" must be a member id string')
    if kind in ("offer", "answer") and not isinstance(message.get("sdp"), str):
        raise _bad(f'an {kind} needs "sdp" as a string')
    if kind == "candidate":
        _check_candidate(message)
    return Relay(kind, message, to)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_client_message(text: str) -> ClientMessage:
    """Validate one client frame; raise ProtocolError naming what is wrong."""
    try:
        message = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise ProtocolError(
            ErrorCode.BAD_JSON, "message is not valid JSON; send one JSON object per text frame"
        ) from None
    if not isinstance(message, dict):
        raise _bad("message must be a JSON object")
    kind = message.get("type")
    if not isinstance(kind, str):
        raise _bad('message needs a string "type"')
    if kind == "join":
        return _parse_join(message)
    if kind in RELAYED_TYPES:
        return _parse_relay(kind, message)
    if kind == "ping":
        return Ping(message)
    raise ProtocolError(
        ErrorCode.UNKNOWN_TYPE,
        f"unknown message type {kind[:EXCERPT_CHARS]!r}; "
        "expected join, offer, answer, candidate, bye or ping",
    )


def encode(message: dict[str, Any]) -> str:
    """Serialise a server message (compact, as sent on the wire)."""
    return json.dumps(message, separators=(",", ":"))
