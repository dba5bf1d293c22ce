import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ratecontrol.twcc import (
    ChunkWriter,
    TransportFeedback,
    build_rtcp_transport_cc,
    parse_rtcp_transport_cc,
    split_rtcp_compound,
)

# Hand-built: base seq 65535, 3 packets (received +1 ms, lost, received -1 ms), ref time 0xFFFFFF.
# One two-bit status vector 11|01 00 10 00 00 00 00 = 0xD200; deltas 0x04 and 0xFFFC (int16 -4).
HAND_BUILT = bytes.fromhex(
    "8fcd0006"  # V=2 P=0 FMT=15, PT=205, length 6 words (28 bytes)
    "01020304"  # sender SSRC
    "05060708"  # media SSRC
    "ffff0003"  # base seq 65535, status count 3
    "ffffff07"  # reference time 0xFFFFFF (64 ms units), feedback packet count 7
    "d200"  # status vector, 2-bit symbols: small, not received, large
    "04fffc"  # deltas: 4 ticks, -4 ticks
    "000000"  # zero padding to a 32-bit word
)
HAND_BUILT_FB = TransportFeedback(
    sender_ssrc=0x01020304,
    media_ssrc=0x05060708,
    base_seq=0xFFFF,
    reference_time_64ms=0xFFFFFF,
    feedback_count=7,
    deltas_ticks=(4, None, -4),
)


def _packet(base: int, count: int, chunks: list[int], deltas: bytes, ref: int = 0) -> bytes:
    body = struct.pack("!IIHHI", 1, 2, base, count, ref << 8) + b"".join(
        struct.pack("!H", c) for c in chunks
    )
    body += deltas + bytes(-(len(body) + len(deltas)) % 4)
    return struct.pack("!BBH", 0x8F, 205, len(body) // 4) + body


def test_parse_hand_built_two_bit_vector_with_wraps_and_negative_delta() -> None:
    fb = parse_rtcp_transport_cc(HAND_BUILT)
    assert fb == HAND_BUILT_FB
    assert fb.arrival_offsets_ms() == [(65535, 1.0), (0, None), (1, 0.0)]


def test_build_matches_hand_built_bytes() -> None:
    assert build_rtcp_transport_cc(HAND_BUILT_FB) == HAND_BUILT


def test_run_length_chunk_by_hand() -> None:
    # 0|01|0000000010100: 20 packets received with small deltas; then 0|00|...: 300 lost; then 1.
    chunks = [0x2000 | 20, 0x0000 | 300, 0x2000 | 1]
    raw = _packet(100, 321, chunks, bytes([1] * 21))
    assert len(raw) % 4 == 0
    fb = parse_rtcp_transport_cc(raw)
    assert fb is not None
    assert fb.deltas_ticks == (1,) * 20 + (None,) * 300 + (1,)
    offsets = fb.arrival_offsets_ms()
    assert offsets[19] == (119, 5.0)
    assert offsets[-1] == (420, 5.25)
    # Our builder uses the same three run-length chunks for it.
    assert build_rtcp_transport_cc(fb) == raw


def test_one_bit_status_vector_from_the_draft() -> None:
    # Draft section 3.1.4 example: 1|0|11100110000100.
    raw = _packet(7, 14, [0xB984], bytes([2, 3, 4, 5, 6, 7]))
    fb = parse_rtcp_transport_cc(raw)
    assert fb is not None
    received = [d is not None for d in fb.deltas_ticks]
    assert received == [True, True, True, False, False, True, True] + [False] * 4 + [
        True,
        False,
        False,
    ]
    assert [d for d in fb.deltas_ticks if d is not None] == [2, 3, 4, 5, 6, 7]


def test_status_vector_longer_than_count_is_truncated() -> None:
    # Two-bit vector 11|01 10 01 00 00 00 00 = 0xD900, but only 3 packets reported.
    raw = _packet(0, 3, [0xD900], bytes([9]) + struct.pack("!h", 1000) + bytes([9]))
    fb = parse_rtcp_transport_cc(raw)
    assert fb is not None and fb.deltas_ticks == (9, 1000, 9)


def test_large_positive_delta_uses_two_bytes() -> None:
    fb = TransportFeedback(1, 2, 10, 5, 0, (256, 0, 32767, -32768))
    raw = build_rtcp_transport_cc(fb)
    # Chunk 11|10 01 10 10 00 00 00 = 0xE680; deltas 2+1+2+2 bytes; 20 + 2 + 7 = 29 -> 32 bytes.
    assert raw[20:22] == bytes.fromhex("e680")
    assert raw[22:29] == bytes.fromhex("0100007fff8000")
    assert len(raw) == 32 and raw[29:] == bytes(3)
    assert parse_rtcp_transport_cc(raw) == fb


def test_p_bit_padding_is_accepted() -> None:
    padded = bytearray(HAND_BUILT)
    padded[0] |= 0x20
    padded[-1] = 3  # RFC 3550: the last padding byte counts the padding
    assert parse_rtcp_transport_cc(bytes(padded)) == HAND_BUILT_FB
    padded[-1] = 0
    assert parse_rtcp_transport_cc(bytes(padded)) is None


def test_builder_pads_to_words_without_p_bit() -> None:
    for n in range(1, 40):
        fb = TransportFeedback(1, 2, 3, 4, 5, tuple((i * 37) % 300 for i in range(n)))
        raw = build_rtcp_transport_cc(fb)
        assert len(raw) % 4 == 0
        assert raw[0] & 0x20 == 0
        assert struct.unpack("!H", raw[2:4])[0] == len(raw) // 4 - 1


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        HAND_BUILT[:19],
        HAND_BUILT[:-4],  # length field says more than there is
        HAND_BUILT[:2] + b"\x00\x04" + HAND_BUILT[4:20],  # deltas cut off by the length field
        bytes([0x4F]) + HAND_BUILT[1:],  # version 1
        bytes([0x8E]) + HAND_BUILT[1:],  # FMT 14
        HAND_BUILT[:1] + bytes([206]) + HAND_BUILT[2:],  # PT 206
        HAND_BUILT[:14] + b"\x00\x00" + HAND_BUILT[16:],  # status count 0
        _packet(0, 5, [0x0000], b""),  # run length 0
        _packet(0, 5, [0x6005], b""),  # reserved symbol 3 in a run
        _packet(0, 2, [0xF000], b""),  # reserved symbol 3 in a vector
        _packet(0, 40, [0x2000 | 10], bytes(10)),  # chunks stop before the count
    ],
)
def test_malformed_gives_none(raw: bytes) -> None:
    assert parse_rtcp_transport_cc(raw) is None


def test_builder_rejects_what_does_not_fit() -> None:
    with pytest.raises(ValueError, match="16 bits"):
        build_rtcp_transport_cc(TransportFeedback(1, 2, 0, 0, 0, (40000,)))
    with pytest.raises(ValueError, match=r"1\.\.65535"):
        build_rtcp_transport_cc(TransportFeedback(1, 2, 0, 0, 0, ()))
    with pytest.raises(ValueError, match="base_seq"):
        build_rtcp_transport_cc(TransportFeedback(1, 2, 65536, 0, 0, (1,)))
    with pytest.raises(ValueError, match="reference_time"):
        build_rtcp_transport_cc(TransportFeedback(1, 2, 0, 1 << 24, 0, (1,)))


def test_split_compound_with_receiver_report() -> None:
    rr = struct.pack("!BBHI", 0x80, 201, 1, 0xABCD)  # RR with no report blocks
    packets = list(split_rtcp_compound(rr + HAND_BUILT + b"\x80"))
    assert packets == [rr, HAND_BUILT]
    assert parse_rtcp_transport_cc(packets[0]) is None
    assert parse_rtcp_transport_cc(packets[1]) == HAND_BUILT_FB
    assert list(split_rtcp_compound(rr[:4] + b"\x00\x00")) == []


def test_chunk_writer_prefers_long_runs_and_packs_vectors() -> None:
    w = ChunkWriter()
    for s in [1] * 100 + [0, 1] * 7 + [2] * 3:
        w.add(s)
    chunks = w.finish()
    assert chunks[0] == 0x2000 | 100
    assert chunks[1] == 0x9555  # 1|0|01010101010101
    assert chunks[2] == 0x4000 | 3


# Deltas as runs, so that long run-length chunks and mixed vectors both appear.
_delta = st.one_of(
    st.none(), st.integers(0, 255), st.integers(-32768, 32767), st.sampled_from([0, 255, 256, -1])
)
_runs = st.lists(st.tuples(_delta, st.integers(1, 40)), min_size=1, max_size=30)


@settings(max_examples=300, deadline=None)
@given(
    runs=_runs,
    base=st.integers(0, 65535),
    ref=st.integers(0, (1 << 24) - 1),
    count=st.integers(0, 255),
    ssrcs=st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1)),
)
def test_round_trip(
    runs: list[tuple[int | None, int]], base: int, ref: int, count: int, ssrcs: tuple[int, int]
) -> None:
    deltas = tuple(d for d, n in runs for _ in range(n))
    fb = TransportFeedback(ssrcs[0], ssrcs[1], base, ref, count, deltas)
    raw = build_rtcp_transport_cc(fb)
    assert len(raw) % 4 == 0
    assert parse_rtcp_transport_cc(raw) == fb


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_never_raise(data: bytes) -> None:
    parse_rtcp_transport_cc(data)
    list(split_rtcp_compound(data))


@settings(max_examples=500, deadline=None)
@given(st.binary(min_size=16, max_size=200), st.booleans())
def test_any_body_behind_a_valid_header_never_raises(body: bytes, padded: bool) -> None:
    body = body[: len(body) // 4 * 4]
    first = 0x8F | (0x20 if padded else 0)
    fb = parse_rtcp_transport_cc(struct.pack("!BBH", first, 205, len(body) // 4) + body)
    if fb is not None:
        assert 1 <= len(fb.deltas_ticks) <= 65535
