from __future__ import annotations

import json

import pytest

from signaling.protocol import (
    ErrorCode,
    Join,
    Ping,
    ProtocolError,
    Relay,
    encode,
    parse_client_message,
)


def code_of(text: str) -> ErrorCode:
    with pytest.raises(ProtocolError) as raised:
        parse_client_message(text)
    assert raised.value.message
    assert raised.value.frame()["type"] == "error"
    return raised.value.code


def test_join_with_and_without_version_and_token() -> None:
    assert parse_client_message('{"type": "join", "room": "a-1.b_c"}') == Join("a-1.b_c")
    assert parse_client_message('{"type":"join","room":"r","v":1,"token":"t"}') == Join("r", "t")
    assert code_of('{"type": "join", "room": "r", "v": 2}') == ErrorCode.UNSUPPORTED_VERSION
    assert code_of('{"type": "join", "room": "r", "v": "1"}') == ErrorCode.BAD_MESSAGE
    assert code_of('{"type": "join", "room": "r", "v": true}') == ErrorCode.BAD_MESSAGE
    assert code_of('{"type": "join", "room": "r", "token": 5}') == ErrorCode.BAD_MESSAGE


@pytest.mark.parametrize("room", ["", "x" * 65, "a b", "é", "r\n", None, 3, ["r"]])
def test_bad_room_names(room: object) -> None:
    assert code_of(json.dumps({"type": "join", "room": room})) == ErrorCode.BAD_MESSAGE


def test_relayed_messages_keep_their_fields() -> None:
    message = {"type": "offer", "sdp": "v=0", "to": "abc", "x": {"y": [1]}}
    assert parse_client_message(json.dumps(message)) == Relay("offer", message, "abc")
    assert parse_client_message('{"type": "bye"}') == Relay("bye", {"type": "bye"}, None)
    assert isinstance(parse_client_message('{"type": "ping", "n": 1}'), Ping)


@pytest.mark.parametrize("candidate", [
    None, "candidate:1 1 udp 1 127.0.0.1 9 typ host",
    {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host", "sdpMid": "0", "sdpMLineIndex": 0},
    {"candidate": "", "sdpMid": None, "sdpMLineIndex": None},
])
def test_candidate_shapes_accepted(candidate: object) -> None:
    parse_client_message(json.dumps({"type": "candidate", "candidate": candidate}))
    parse_client_message('{"type": "candidate"}')


@pytest.mark.parametrize("candidate", [
    5, [], {"candidate": 5}, {"sdpMid": 0}, {"sdpMLineIndex": -1}, {"sdpMLineIndex": "0"},
    {"sdpMLineIndex": True},
])
def test_bad_candidates(candidate: object) -> None:
    text = json.dumps({"type": "candidate", "candidate": candidate})
    assert code_of(text) == ErrorCode.BAD_MESSAGE


@pytest.mark.parametrize(("text", "code"), [
    ("not json", ErrorCode.BAD_JSON),
    ("", ErrorCode.BAD_JSON),
    ('{"type": "offer", "sdp": NaN}', ErrorCode.BAD_JSON),
    ("[" * 100_000, ErrorCode.BAD_JSON),
    ("1" * 5000, ErrorCode.BAD_JSON),
    ("[1, 2]", ErrorCode.BAD_MESSAGE),
    ('"join"', ErrorCode.BAD_MESSAGE),
    ('{"room": "r"}', ErrorCode.BAD_MESSAGE),
    ('{"type": 1}', ErrorCode.BAD_MESSAGE),
    ('{"type": "offer"}', ErrorCode.BAD_MESSAGE),
    ('{"type": "answer", "sdp": 1}', ErrorCode.BAD_MESSAGE),
    ('{"type": "offer", "sdp": "x", "to": 7}', ErrorCode.BAD_MESSAGE),
    ('{"type": "offer", "sdp": "x", "to": ""}', ErrorCode.BAD_MESSAGE),
    ('{"type": "joined"}', ErrorCode.UNKNOWN_TYPE),
    ('{"type": "peer-left"}', ErrorCode.UNKNOWN_TYPE),
])
def test_refusals(text: str, code: ErrorCode) -> None:
    assert code_of(text) == code


def test_unknown_type_message_is_short_even_for_a_huge_type() -> None:
    with pytest.raises(ProtocolError) as raised:
        parse_client_message(json.dumps({"type": "x" * 10_000}))
    assert len(raised.value.message) < 200


def test_encode_is_compact_json() -> None:
    assert encode({"type": "pong", "a": [1]}) == '{"type":"pong","a":[1]}'
