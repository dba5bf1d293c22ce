"""Fuzzing the message handling: the parser with Hypothesis, the server over real sockets."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signaling.protocol import ErrorCode, ProtocolError, parse_client_message
from signaling.server import ServerConfig
from tests.signaling.support import running_server
from tools.signaling_fuzz import run_fuzz

MAX_MESSAGE_BYTES = 4096
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12)
message_types = st.sampled_from(
    ["join", "offer", "answer", "candidate", "bye", "ping", "joined", "error", ""]) | st.text()
messages = st.fixed_dictionaries(
    {"type": message_types},
    optional={"room": json_values | st.from_regex(r"[a-z]{1,8}", fullmatch=True),
              "sdp": json_values, "to": json_values, "candidate": json_values,
              "v": st.integers(-2, 3) | json_values, "token": json_values})


@given(st.text())
def test_parser_refuses_any_text_with_a_protocol_error_only(text: str) -> None:
    try:
        parse_client_message(text)
    except ProtocolError as error:
        assert error.code in set(ErrorCode) and error.message


@given(messages)
def test_parser_handles_any_json_message(message: dict[str, Any]) -> None:
    try:
        parse_client_message(json.dumps(message))
    except ProtocolError as error:
        assert error.code in set(ErrorCode) and len(error.message) < 300


class ServerThread:
    """A real server on its own event loop in a thread, for many short test clients."""

    def __init__(self) -> None:
        self.url = ""
        self.errors: list[logging.LogRecord] = []
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        config = ServerConfig(max_message_bytes=MAX_MESSAGE_BYTES, join_timeout_s=600)
        async with running_server(config) as (_, url):
            self.url = url.replace("http", "ws") + "/ws"
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> ServerThread:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


class ErrorCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[ServerThread, ErrorCollector]]:
    collector = ErrorCollector()
    loggers = [logging.getLogger(name) for name in ("aiohttp.server", "aiohttp.web", "signaling")]
    for logger in loggers:
        logger.addHandler(collector)
    with ServerThread() as thread:
        yield thread, collector
    for logger in loggers:
        logger.removeHandler(collector)


frames = st.lists(
    st.one_of(messages.map(json.dumps), st.text(max_size=200), st.binary(min_size=1, max_size=64),
              st.just("x" * (MAX_MESSAGE_BYTES + 1))),
    min_size=1, max_size=8)


async def send_and_check(url: str, batch: list[str | bytes]) -> None:
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        joined = False
        for nonce, frame in enumerate(batch):
            if isinstance(frame, bytes):
                await ws.send_bytes(frame)
            else:
                await ws.send_str(frame)
            await ws.send_json({"type": "ping", "nonce": nonce})
            answers: list[dict[str, Any]] = []
            while True:
                reply = await ws.receive(timeout=10)
                if reply.type != aiohttp.WSMsgType.TEXT:
                    assert isinstance(frame, str) and len(frame) > MAX_MESSAGE_BYTES, reply
                    assert reply.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                                          aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.ERROR)
                    assert ws.close_code in (1009, 1006)
                    return
                message = json.loads(reply.data)
                if message == {"type": "pong", "nonce": nonce}:
                    break
                answers.append(message)
            errors = [a for a in answers if a["type"] == "error"]
            assert len(errors) <= 1 and all(e["code"] in set(ErrorCode) for e in errors)
            if isinstance(frame, bytes):
                assert [e["code"] for e in errors] == [ErrorCode.BAD_MESSAGE]
                continue
            try:
                parsed = parse_client_message(frame)
            except ProtocolError as error:
                assert [e["code"] for e in errors] == [error.code]
                continue
            kind = type(parsed).__name__
            if kind == "Join" and not joined:
                assert errors or answers[0]["type"] == "joined"
                joined = not errors
            elif kind == "Join":
                assert [e["code"] for e in errors] == [ErrorCode.ALREADY_JOINED]
            elif kind == "Relay" and not joined:
                assert [e["code"] for e in errors] == [ErrorCode.NOT_JOINED]


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(batch=frames)
def test_server_answers_every_fuzzed_frame(
        server: tuple[ServerThread, ErrorCollector], batch: list[str | bytes]) -> None:
    thread, collector = server
    asyncio.run(send_and_check(thread.url, batch))
    assert not collector.records, collector.records[0].getMessage()


def test_fuzz_script_cases_then_a_normal_call(
        server: tuple[ServerThread, ErrorCollector]) -> None:
    thread, collector = server
    report = asyncio.run(run_fuzz(thread.url, count=600, seed=7,
                                  max_message_bytes=MAX_MESSAGE_BYTES))
    assert report.failures == []
    assert report.call_after
    assert report.cases == 600 and len(report.by_kind) >= 10
    assert not collector.records


def test_fuzz_cli_against_its_own_server(capsys: pytest.CaptureFixture[str]) -> None:
    from tools.signaling_fuzz import main

    assert main(["--count", "300", "--seed", "3"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["cases"] == 300 and result["failures"] == [] and result["call_after_fuzz"]
    assert not result["server_logged_exception"]
