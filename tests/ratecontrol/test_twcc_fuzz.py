"""Coverage-guided fuzzing of the transport-cc parser with structured mutations.

tests/ratecontrol/test_twcc.py holds the round trip and plain random bytes; here valid
packets are built, then mutated the way a hostile or broken peer would: chunks of any kind,
lying counts and lengths, cut or extended buffers, flipped bits, compound packets.
"""

from __future__ import annotations

import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ratecontrol.twcc import (
    LARGE_DELTA_MAX_TICKS,
    LARGE_DELTA_MIN_TICKS,
    MAX_STATUS_COUNT,
    TransportFeedback,
    build_rtcp_transport_cc,
    parse_rtcp_transport_cc,
    split_rtcp_compound,
)

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_valid(fb: TransportFeedback) -> None:
    """What every parsed feedback must satisfy, whatever the bytes were."""
    assert 1 <= len(fb.deltas_ticks) <= MAX_STATUS_COUNT
    assert 0 <= fb.base_seq < 1 << 16 and 0 <= fb.feedback_count < 1 << 8
    assert 0 <= fb.reference_time_64ms < 1 << 24
    assert 0 <= fb.sender_ssrc < 1 << 32 and 0 <= fb.media_ssrc < 1 << 32
    for d in fb.deltas_ticks:
        assert d is None or LARGE_DELTA_MIN_TICKS <= d <= LARGE_DELTA_MAX_TICKS
    offsets = fb.arrival_offsets_ms()
    assert len(offsets) == len(fb.deltas_ticks)
    # what we parsed, we can build again, and it parses to the same feedback
    assert parse_rtcp_transport_cc(build_rtcp_transport_cc(fb)) == fb


run_chunk = st.builds(lambda symbol, run: (symbol << 13) | run, st.integers(0, 3),
                      st.integers(0, 0x1FFF))
vector_chunk = st.builds(lambda bits: 0x8000 | bits, st.integers(0, 0x7FFF))
chunk = st.one_of(run_chunk, vector_chunk)


@st.composite
def structured_packet(draw: st.DrawFn) -> bytes:
    count = draw(st.one_of(st.integers(0, 40), st.integers(0, MAX_STATUS_COUNT)))
    chunks = draw(st.lists(chunk, max_size=30))
    deltas = draw(st.binary(max_size=120))
    body = struct.pack("!IIHHI", draw(st.integers(0, 2**32 - 1)), draw(st.integers(0, 2**32 - 1)),
                       draw(st.integers(0, 0xFFFF)), count, draw(st.integers(0, 2**32 - 1)))
    body += struct.pack(f"!{len(chunks)}H", *chunks) + deltas
    body += bytes(-len(body) % 4)
    length = draw(st.one_of(st.just(len(body) // 4), st.integers(0, 0xFFFF)))
    first = 0x8F | (0x20 if draw(st.booleans()) else 0)
    return struct.pack("!BBH", first, 205, length) + body


@FUZZ
@given(structured_packet())
def test_structured_packets_parse_to_none_or_valid_feedback(raw: bytes) -> None:
    fb = parse_rtcp_transport_cc(raw)
    if fb is not None:
        assert_valid(fb)


@st.composite
def mutated_valid_packet(draw: st.DrawFn) -> bytes:
    deltas = draw(st.lists(st.one_of(st.none(), st.integers(0, 255),
                                     st.integers(LARGE_DELTA_MIN_TICKS, LARGE_DELTA_MAX_TICKS)),
                           min_size=1, max_size=80))
    raw = bytearray(build_rtcp_transport_cc(TransportFeedback(1, 2, draw(st.integers(0, 0xFFFF)),
                                                              5, 9, tuple(deltas))))
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["flip", "cut", "extend", "set"]))
        if op == "flip" and raw:
            i = draw(st.integers(0, len(raw) - 1))
            raw[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "cut" and raw:
            del raw[draw(st.integers(0, len(raw) - 1)):]
        elif op == "extend":
            raw += draw(st.binary(min_size=1, max_size=16))
        elif op == "set" and len(raw) >= 2:
            i = draw(st.integers(0, len(raw) - 2))
            raw[i:i + 2] = struct.pack("!H", draw(st.integers(0, 0xFFFF)))
    return bytes(raw)


@FUZZ
@given(mutated_valid_packet())
def test_mutated_valid_packets_parse_to_none_or_valid_feedback(raw: bytes) -> None:
    fb = parse_rtcp_transport_cc(raw)
    if fb is not None:
        assert_valid(fb)


@FUZZ
@given(st.lists(st.one_of(structured_packet(), mutated_valid_packet(), st.binary(max_size=40)),
                max_size=5))
def test_compound_packets_split_into_parseable_pieces(parts: list[bytes]) -> None:
    data = b"".join(parts)
    total = 0
    for packet in split_rtcp_compound(data):
        assert len(packet) >= 4 and len(packet) % 4 == 0
        total += len(packet)
        fb = parse_rtcp_transport_cc(packet)
        if fb is not None:
            assert_valid(fb)
    assert total <= len(data)


def test_a_packet_is_found_among_mutated_ones() -> None:
    """The fuzzed parser still recognises the real thing next to junk (not vacuous)."""
    good = build_rtcp_transport_cc(TransportFeedback(1, 2, 10, 5, 9, (1, None, 300)))
    rr = struct.pack("!BBHI", 0x80, 201, 1, 7)
    found = [parse_rtcp_transport_cc(p) for p in split_rtcp_compound(rr + good + b"\x80\x00")]
    assert found[0] is None and found[1] is not None
    assert found[1].deltas_ticks == (1, None, 300)
