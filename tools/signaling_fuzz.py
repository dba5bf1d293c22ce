"""Fuzz the signaling server over real sockets: `python -m tools.signaling_fuzz --count 10000`.

Each case is one frame of a known kind (bad JSON, wrong types, unknown type, wrong order, a
`to` naming nobody, oversized, binary, or valid) with the answer it must get: an error frame
with a given code, a close with a given code, or no error. After each case a ping/pong marks
the end of the answer. At the end a normal call (join, offer, answer, candidates) must still
go through, and the server must not have logged an unhandled exception.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import string
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from signaling.protocol import CloseCode, ErrorCode

ACCEPTED = "accepted"
JOINED_SOCKET = "joined"  # a socket in a room with a partner
FRESH_SOCKET = "fresh"  # a socket that has not joined
REPLY_TIMEOUT_S = 10.0
ABNORMAL_CLOSURE = 1006


@dataclass(frozen=True)
class FuzzCase:
    kind: str
    payload: str | bytes
    socket: str  # JOINED_SOCKET or FRESH_SOCKET
    expect: str  # an ErrorCode value, "close:CODE", or ACCEPTED


def _json_value(rng: random.Random, depth: int = 0) -> Any:
    choice = rng.randrange(8 if depth < 3 else 5)
    if choice == 0:
        return None
    if choice == 1:
        return rng.choice([True, False])
    if choice == 2:
        return rng.randint(-(2**40), 2**40)
    if choice == 3:
        return rng.random() * 1e6
    if choice == 4:
        return "".join(rng.choice(string.printable) for _ in range(rng.randrange(20)))
    if choice in (5, 6):
        return [_json_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {_text(rng, 8): _json_value(rng, depth + 1) for _ in range(rng.randrange(4))}


def _text(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.ascii_letters) for _ in range(rng.randrange(1, n + 1)))


def _not_str(rng: random.Random) -> Any:
    value = _json_value(rng)
    return 0 if isinstance(value, str) or value is None else value


def _bad_json(rng: random.Random, max_message_bytes: int) -> str:
    valid = json.dumps({"type": "offer", "sdp": _text(rng, 30)})
    options = [
        valid[: rng.randrange(1, len(valid) - 1)],  # truncated
        valid.replace('"', "'"),
        "".join(rng.choice(string.printable) for _ in range(rng.randrange(1, 200))) + "{",
        "{" * rng.randrange(1, min(5000, max_message_bytes // 2)),
        '{"type": "offer", "sdp": NaN}',
        "",
    ]
    return rng.choice(options)


def _wrong_types(rng: random.Random) -> tuple[str, str]:
    """A message with one field of the wrong type; (payload, socket)."""
    kind = rng.randrange(7)
    if kind == 0:
        return json.dumps(rng.choice([[1, 2], "join", 3, None, True])), FRESH_SOCKET
    if kind == 1:
        return json.dumps({"type": _not_str(rng), "room": "r"}), FRESH_SOCKET
    if kind == 2:
        return json.dumps({"type": "join", "room": _not_str(rng)}), FRESH_SOCKET
    if kind == 3:
        bad_room = rng.choice(["", "x" * 65, "a b", "é", "../etc", "r\n"])
        return json.dumps({"type": "join", "room": bad_room}), FRESH_SOCKET
    if kind == 4:
        return json.dumps({"type": rng.choice(["offer", "answer"]), "sdp": _not_str(rng)}), \
            JOINED_SOCKET
    if kind == 5:
        return json.dumps({"type": "offer", "sdp": "x", "to": _not_str(rng)}), JOINED_SOCKET
    candidate = rng.choice([5, [], {"candidate": 7}, {"sdpMLineIndex": -1}, {"sdpMid": 3}])
    return json.dumps({"type": "candidate", "candidate": candidate}), JOINED_SOCKET


def _valid_relay(rng: random.Random) -> str:
    kind = rng.choice(["offer", "answer", "candidate", "bye"])
    message: dict[str, Any] = {"type": kind, "extra": _json_value(rng)}
    if kind in ("offer", "answer"):
        message["sdp"] = _text(rng, 200)
    if kind == "candidate":
        message["candidate"] = rng.choice([
            None, {"candidate": f"candidate:1 1 udp 1 127.0.0.1 {rng.randrange(65536)} typ host",
                   "sdpMid": "0", "sdpMLineIndex": 0}])
    return json.dumps(message)


def make_case(rng: random.Random, max_message_bytes: int) -> FuzzCase:
    kind = rng.choices(
        ["bad-json", "wrong-type", "unknown-type", "before-join", "second-join", "to-nobody",
         "oversized", "binary", "bad-version", "valid-relay", "valid-join"],
        weights=[15, 20, 10, 10, 5, 5, 2, 10, 3, 15, 5])[0]
    if kind == "bad-json":
        return FuzzCase(kind, _bad_json(rng, max_message_bytes),
                        rng.choice([FRESH_SOCKET, JOINED_SOCKET]), ErrorCode.BAD_JSON)
    if kind == "wrong-type":
        payload, socket = _wrong_types(rng)
        return FuzzCase(kind, payload, socket, ErrorCode.BAD_MESSAGE)
    if kind == "unknown-type":
        name = rng.choice(["joined", "peer-left", "error", "pong", "", _text(rng, 100)])
        return FuzzCase(kind, json.dumps({"type": name, "room": "r"}), JOINED_SOCKET,
                        ErrorCode.UNKNOWN_TYPE)
    if kind == "before-join":
        return FuzzCase(kind, _valid_relay(rng), FRESH_SOCKET, ErrorCode.NOT_JOINED)
    if kind == "second-join":
        return FuzzCase(kind, json.dumps({"type": "join", "room": _text(rng, 10)}),
                        JOINED_SOCKET, ErrorCode.ALREADY_JOINED)
    if kind == "to-nobody":
        message = json.loads(_valid_relay(rng))
        message["to"] = "nobody-" + _text(rng, 8)
        return FuzzCase(kind, json.dumps(message), JOINED_SOCKET, ErrorCode.NO_SUCH_PEER)
    if kind == "oversized":
        pad = "x" * (max_message_bytes + rng.randrange(1, 4 * max_message_bytes))
        return FuzzCase(kind, json.dumps({"type": "offer", "sdp": pad}),
                        rng.choice([FRESH_SOCKET, JOINED_SOCKET]),
                        f"close:{int(CloseCode.MESSAGE_TOO_BIG)}")
    if kind == "binary":
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
        return FuzzCase(kind, data, rng.choice([FRESH_SOCKET, JOINED_SOCKET]),
                        ErrorCode.BAD_MESSAGE)
    if kind == "bad-version":
        message = {"type": "join", "room": "r", "v": rng.choice([0, 2, 99, -1])}
        return FuzzCase(kind, json.dumps(message), FRESH_SOCKET, ErrorCode.UNSUPPORTED_VERSION)
    if kind == "valid-relay":
        return FuzzCase(kind, _valid_relay(rng), JOINED_SOCKET, ACCEPTED)
    return FuzzCase(kind, json.dumps({"type": "join", "room": f"fz-{rng.randrange(10**9)}",
                                      "v": 1}), FRESH_SOCKET, ACCEPTED)


@dataclass
class FuzzReport:
    cases: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    call_after: bool = False

    @property
    def ok(self) -> bool:
        return not self.failures and self.call_after


class _Sockets:
    """The fuzzer's sockets: a fresh one, and a joined one whose partner drains the room."""

    def __init__(self, session: aiohttp.ClientSession, ws_url: str) -> None:
        self.session = session
        self.ws_url = ws_url
        self.fresh: aiohttp.ClientWebSocketResponse | None = None
        self.joined: aiohttp.ClientWebSocketResponse | None = None
        self.partner: aiohttp.ClientWebSocketResponse | None = None
        self._drain: asyncio.Task[None] | None = None
        self._rooms = 0

    async def get(self, which: str) -> aiohttp.ClientWebSocketResponse:
        if which == FRESH_SOCKET:
            if self.fresh is None or self.fresh.closed:
                self.fresh = await self.session.ws_connect(self.ws_url)
            return self.fresh
        if self.joined is None or self.joined.closed:
            await self._new_room()
        assert self.joined is not None
        return self.joined

    async def _new_room(self) -> None:
        if self.partner is not None:
            await self.partner.close()
        if self._drain is not None:
            await self._drain
        self._rooms += 1
        room = f"fuzz-{self._rooms}-{time.monotonic_ns()}"
        self.partner = await self.session.ws_connect(self.ws_url)
        await self.partner.send_json({"type": "join", "room": room})
        await self.partner.receive_json(timeout=REPLY_TIMEOUT_S)
        self._drain = asyncio.create_task(self._drain_partner(self.partner))
        self.joined = await self.session.ws_connect(self.ws_url)
        await self.joined.send_json({"type": "join", "room": room})
        await self.joined.receive_json(timeout=REPLY_TIMEOUT_S)

    @staticmethod
    async def _drain_partner(partner: aiohttp.ClientWebSocketResponse) -> None:
        async for _ in partner:
            pass

    async def used_fresh_join(self) -> None:
        if self.fresh is not None:  # it is in a room now; later "fresh" cases need a new one
            await self.fresh.close()
        self.fresh = None

    async def close(self) -> None:
        for ws in (self.fresh, self.joined, self.partner):
            if ws is not None:
                await ws.close()
        if self._drain is not None:
            await self._drain


async def _answer(ws: aiohttp.ClientWebSocketResponse, nonce: int) -> tuple[list[dict[str, Any]],
                                                                             int | None]:
    """Frames up to our pong; (server messages, close code or None)."""
    messages: list[dict[str, Any]] = []
    while True:
        frame = await ws.receive(timeout=REPLY_TIMEOUT_S)
        if frame.type == aiohttp.WSMsgType.TEXT:
            message = json.loads(frame.data)
            if message.get("type") == "pong" and message.get("nonce") == nonce:
                return messages, None
            messages.append(message)
        elif frame.type == aiohttp.WSMsgType.CLOSE:
            return messages, int(frame.data)
        else:
            return messages, ws.close_code


def _judge(case: FuzzCase, messages: list[dict[str, Any]], close: int | None) -> str | None:
    """None when the answer is the expected one, else what went wrong."""
    errors = [m for m in messages if m.get("type") == "error"]
    known = {str(code) for code in ErrorCode}
    for error in errors:
        if error.get("code") not in known or not error.get("message"):
            return f"malformed error frame {error}"
    if case.expect.startswith("close:"):
        # The server stops reading at the oversized frame's header and closes; when the rest of
        # the frame is still unread, TCP resets the connection and the client sees 1006.
        if close in (int(case.expect[6:]), ABNORMAL_CLOSURE):
            return None
        return f"expected {case.expect}, got {close}"
    if close is not None:
        return f"unexpected close {close}"
    codes = [e["code"] for e in errors]
    if case.expect == ACCEPTED:
        return None if not codes else f"a valid message was refused: {codes}"
    return None if codes == [case.expect] else f"expected [{case.expect}], got {codes}"


async def call_still_works(ws_url: str) -> bool:
    async with aiohttp.ClientSession() as session:
        a = await session.ws_connect(ws_url)
        b = await session.ws_connect(ws_url)
        room = f"after-fuzz-{time.monotonic_ns()}"
        await a.send_json({"type": "join", "room": room})
        joined_a = await a.receive_json(timeout=REPLY_TIMEOUT_S)
        await b.send_json({"type": "join", "room": room})
        joined_b = await b.receive_json(timeout=REPLY_TIMEOUT_S)
        peer_joined = await a.receive_json(timeout=REPLY_TIMEOUT_S)
        await b.send_json({"type": "offer", "sdp": "v=0"})
        offer = await a.receive_json(timeout=REPLY_TIMEOUT_S)
        await a.send_json({"type": "answer", "sdp": "v=0"})
        answer = await b.receive_json(timeout=REPLY_TIMEOUT_S)
        await a.close()
        await b.close()
    return (joined_b.get("peers") == [joined_a.get("id")]
            and peer_joined.get("type") == "peer-joined"
            and offer.get("from") == joined_b.get("id") and answer.get("type") == "answer")


async def run_fuzz(ws_url: str, count: int, seed: int, max_message_bytes: int) -> FuzzReport:
    rng = random.Random(seed)
    report = FuzzReport()
    async with aiohttp.ClientSession() as session:
        sockets = _Sockets(session, ws_url)
        for nonce in range(count):
            case = make_case(rng, max_message_bytes)
            ws = await sockets.get(case.socket)
            try:
                if isinstance(case.payload, bytes):
                    await ws.send_bytes(case.payload)
                else:
                    await ws.send_str(case.payload)
                await ws.send_json({"type": "ping", "nonce": nonce})
            except (ConnectionError, RuntimeError):
                pass  # the server may close first (oversized): the answer says so
            messages, close = await _answer(ws, nonce)
            problem = _judge(case, messages, close)
            report.cases += 1
            report.by_kind[case.kind] += 1
            outcome = "failed" if problem is not None else (
                "ok" if close != ABNORMAL_CLOSURE else "ok (reset after oversized frame)")
            report.outcomes[outcome] += 1
            if problem is not None and len(report.failures) < 20:
                report.failures.append(f"case {nonce} ({case.kind}): {problem}")
            if case.kind == "valid-join" and close is None:
                await sockets.used_fresh_join()
            if close is not None:
                await ws.close()
        await sockets.close()
    report.call_after = await call_still_works(ws_url)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.signaling_fuzz", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10_000, help="cases (default %(default)s)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--url", help="fuzz this running server's ws://H:P/ws instead of "
                                      "starting python -m signaling")
    parser.add_argument("--max-message-bytes", type=int, default=64 * 1024,
                        help="the server's limit (default %(default)s)")
    args = parser.parse_args(argv)
    server: subprocess.Popen[str] | None = None
    url = args.url
    if url is None:
        server = subprocess.Popen(
            [sys.executable, "-m", "signaling", "--port", "0", "--join-timeout-s", "3600",
             "--max-message-bytes", str(args.max_message_bytes)],
            stderr=subprocess.PIPE, text=True)
        assert server.stderr is not None
        found = re.search(r"(ws://\S+/ws)", server.stderr.readline())
        if not found:
            print("fuzz: the server did not start", file=sys.stderr)
            return 1
        url = found.group(1)
    started = time.monotonic()
    try:
        report = asyncio.run(run_fuzz(url, args.count, args.seed, args.max_message_bytes))
    finally:
        server_log = ""
        if server is not None:
            server.terminate()
            _, server_log = server.communicate(timeout=30)
    crashed = "Traceback" in server_log or "Error handling request" in server_log
    print(json.dumps({"cases": report.cases, "seconds": round(time.monotonic() - started, 1),
                      "by_kind": dict(report.by_kind), "outcomes": dict(report.outcomes),
                      "failures": report.failures, "call_after_fuzz": report.call_after,
                      "server_logged_exception": crashed}, indent=1))
    return 0 if report.ok and not crashed else 1


if __name__ == "__main__":
    sys.exit(main())
