"""RTCP transport-cc feedback, draft-holmer-rmcat-transport-wide-cc-extensions-01, section 3.1.

One RTCP packet, PT=205 (RTPFB), FMT=15::

    header (4) | sender SSRC (4) | media SSRC (4)
    base seq (16) | packet status count (16) | reference time (24, 64 ms units) | fb count (8)
    packet chunks (16 bits each) ... | receive deltas (8 or 16 bits each) ... | zero padding

A chunk is either a run length (T=0: 2-bit symbol, 13-bit run) or a status vector (T=1, S=0:
14 one-bit symbols; S=1: 7 two-bit symbols). Symbols: 0 not received, 1 received with a small
delta (1 byte, unsigned), 2 received with a large or negative delta (2 bytes, signed); 3 is
reserved. Deltas are in 250 µs ticks; the first is relative to the reference time, each next one
to the previous received packet.

Errors: the parser never raises — any malformed input gives None. The builder raises ValueError
(a programming error of ours, not bad network input) for values that do not fit the format.
Padding: we write zero padding *without* the P bit, as the draft's figure shows; a P bit would
make aiortc's own RTCP parser reject the packet. The parser accepts both forms.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

RTCP_RTPFB_PT = 205
TRANSPORT_CC_FMT = 15
TICK_US = 250
TICK_MS = TICK_US / 1000.0
REFERENCE_TIME_UNIT_MS = 64
REFERENCE_TIME_MODULO = 1 << 24
SEQ_MODULO = 1 << 16
FEEDBACK_COUNT_MODULO = 1 << 8
MAX_STATUS_COUNT = 0xFFFF
MAX_RUN_LENGTH = 0x1FFF
SMALL_DELTA_MAX_TICKS = 0xFF
LARGE_DELTA_MIN_TICKS = -0x8000
LARGE_DELTA_MAX_TICKS = 0x7FFF
HEADER_BYTES = 20  # RTCP header, two SSRCs, base seq, count, reference time, fb count

SYMBOL_NOT_RECEIVED = 0
SYMBOL_SMALL_DELTA = 1
SYMBOL_LARGE_DELTA = 2


@dataclass(frozen=True, slots=True)
class TransportFeedback:
    """One transport-cc feedback packet, as on the wire (16-bit seqs, raw 24-bit time).

    `deltas_ticks[i]` belongs to sequence number `(base_seq + i) % 2**16`: None when the packet
    was not received, else its receive delta in 250 µs ticks.
    """

    sender_ssrc: int
    media_ssrc: int
    base_seq: int
    reference_time_64ms: int
    feedback_count: int
    deltas_ticks: tuple[int | None, ...]

    def arrival_offsets_ms(self) -> list[tuple[int, float | None]]:
        """(16-bit seq, ms after the reference time, or None if not received) per packet."""
        out: list[tuple[int, float | None]] = []
        ticks = 0
        for i, delta in enumerate(self.deltas_ticks):
            seq = (self.base_seq + i) % SEQ_MODULO
            if delta is None:
                out.append((seq, None))
            else:
                ticks += delta
                out.append((seq, ticks * TICK_MS))
        return out


def delta_symbol(delta_ticks: int | None) -> int:
    """The status symbol the builder uses for one packet's delta."""
    if delta_ticks is None:
        return SYMBOL_NOT_RECEIVED
    if 0 <= delta_ticks <= SMALL_DELTA_MAX_TICKS:
        return SYMBOL_SMALL_DELTA
    return SYMBOL_LARGE_DELTA


class ChunkWriter:
    """Packs status symbols into 16-bit chunks, greedily, one symbol at a time.

    `chunk_count` is exact at every step, so a caller can bound a packet's size while filling it.
    """

    def __init__(self) -> None:
        self.chunks: list[int] = []
        self._pending: list[int] = []
        self._all_same = True

    @property
    def chunk_count(self) -> int:
        return len(self.chunks) + (1 if self._pending else 0)

    def add(self, symbol: int) -> None:
        if not self._can_add(symbol):
            self._emit()
        self._all_same = self._all_same and (not self._pending or self._pending[0] == symbol)
        self._pending.append(symbol)

    def finish(self) -> list[int]:
        p = self._pending
        if p:
            if self._all_same:
                self.chunks.append(_run_chunk(p[0], len(p)))
            else:
                self.chunks.append(_vector_chunk(p))
        self._pending = []
        self._all_same = True
        return self.chunks

    def _can_add(self, symbol: int) -> bool:
        p = self._pending
        if len(p) < 7:
            return True
        if len(p) < 14 and symbol <= 1 and max(p) <= 1:
            return True
        return self._all_same and p[0] == symbol and len(p) < MAX_RUN_LENGTH

    def _emit(self) -> None:
        p = self._pending
        if self._all_same:
            self.chunks.append(_run_chunk(p[0], len(p)))
            rest: list[int] = []
        elif len(p) == 14 or max(p) == SYMBOL_LARGE_DELTA:
            self.chunks.append(_vector_chunk(p))
            rest = []
        else:  # 8..13 one-bit symbols and a large delta coming: 7 of them go two bits wide
            self.chunks.append(_vector_chunk(p[:7], two_bit=True))
            rest = p[7:]
        self._pending = rest
        self._all_same = all(s == rest[0] for s in rest) if rest else True


def _run_chunk(symbol: int, run: int) -> int:
    return (symbol << 13) | run


def _vector_chunk(symbols: Sequence[int], two_bit: bool = False) -> int:
    if two_bit or max(symbols) > 1:
        assert len(symbols) <= 7
        chunk = 0xC000
        for i, s in enumerate(symbols):
            chunk |= s << (12 - 2 * i)
        return chunk
    chunk = 0x8000
    for i, s in enumerate(symbols):
        chunk |= s << (13 - i)
    return chunk


def build_rtcp_transport_cc(fb: TransportFeedback) -> bytes:
    """Serialize one feedback as an RTCP packet, ready to go into a compound packet."""
    n = len(fb.deltas_ticks)
    if not 1 <= n <= MAX_STATUS_COUNT:
        raise ValueError(f"transport-cc feedback needs 1..{MAX_STATUS_COUNT} packets, got {n}")
    for name, value, limit in (
        ("sender_ssrc", fb.sender_ssrc, 1 << 32),
        ("media_ssrc", fb.media_ssrc, 1 << 32),
        ("base_seq", fb.base_seq, SEQ_MODULO),
        ("reference_time_64ms", fb.reference_time_64ms, REFERENCE_TIME_MODULO),
        ("feedback_count", fb.feedback_count, FEEDBACK_COUNT_MODULO),
    ):
        if not 0 <= value < limit:
            raise ValueError(f"transport-cc {name}={value} out of range 0..{limit - 1}")
    writer = ChunkWriter()
    deltas = bytearray()
    for d in fb.deltas_ticks:
        symbol = delta_symbol(d)
        writer.add(symbol)
        if d is None:
            continue
        if symbol == SYMBOL_SMALL_DELTA:
            deltas.append(d)
        elif LARGE_DELTA_MIN_TICKS <= d <= LARGE_DELTA_MAX_TICKS:
            deltas += struct.pack("!h", d)
        else:
            raise ValueError(f"receive delta {d} ticks does not fit 16 bits; split the feedback")
    chunks = writer.finish()
    body = struct.pack(
        "!IIHHI",
        fb.sender_ssrc,
        fb.media_ssrc,
        fb.base_seq,
        n,
        (fb.reference_time_64ms << 8) | fb.feedback_count,
    )
    body += struct.pack(f"!{len(chunks)}H", *chunks) + bytes(deltas)
    body += bytes(-len(body) % 4)
    header = struct.pack("!BBH", 0x80 | TRANSPORT_CC_FMT, RTCP_RTPFB_PT, len(body) // 4)
    return header + body


def parse_rtcp_transport_cc(payload: bytes) -> TransportFeedback | None:
    """Parse one RTCP packet (PT 205, FMT 15); None for anything else or anything malformed.

    Bytes after the length the header announces are ignored (use `split_rtcp_compound` first
    for a compound packet).
    """
    if len(payload) < HEADER_BYTES:
        return None
    first, pt, length_words = struct.unpack_from("!BBH", payload)
    if first >> 6 != 2 or pt != RTCP_RTPFB_PT or first & 0x1F != TRANSPORT_CC_FMT:
        return None
    end = 4 + 4 * length_words
    if end > len(payload) or end < HEADER_BYTES:
        return None
    if first & 0x20:  # P bit: the last byte counts the padding bytes
        pad = payload[end - 1]
        if pad == 0 or end - pad < HEADER_BYTES:
            return None
        end -= pad
    sender, media, base, count, ref_and_count = struct.unpack_from("!IIHHI", payload, 4)
    if count == 0:
        return None
    pos = HEADER_BYTES
    symbols: list[int] = []
    while len(symbols) < count:
        if pos + 2 > end:
            return None
        (chunk,) = struct.unpack_from("!H", payload, pos)
        pos += 2
        if chunk & 0x8000 == 0:
            symbol, run = (chunk >> 13) & 0x3, chunk & 0x1FFF
            if run == 0 or symbol == 3:
                return None
            symbols.extend([symbol] * min(run, count - len(symbols)))
        elif chunk & 0x4000 == 0:
            symbols.extend((chunk >> (13 - i)) & 1 for i in range(14))
        else:
            two = [(chunk >> (12 - 2 * i)) & 3 for i in range(7)]
            if 3 in two[: count - len(symbols)]:
                return None
            symbols.extend(two)
    deltas: list[int | None] = []
    for symbol in symbols[:count]:
        if symbol == SYMBOL_NOT_RECEIVED:
            deltas.append(None)
        elif symbol == SYMBOL_SMALL_DELTA:
            if pos + 1 > end:
                return None
            deltas.append(payload[pos])
            pos += 1
        else:
            if pos + 2 > end:
                return None
            deltas.append(struct.unpack_from("!h", payload, pos)[0])
            pos += 2
    return TransportFeedback(
        sender_ssrc=sender,
        media_ssrc=media,
        base_seq=base,
        reference_time_64ms=ref_and_count >> 8,
        feedback_count=ref_and_count & 0xFF,
        deltas_ticks=tuple(deltas),
    )


def split_rtcp_compound(data: bytes) -> Iterator[bytes]:
    """Yield each RTCP packet of a compound packet; stops quietly at the first malformed one."""
    pos = 0
    while pos + 4 <= len(data):
        first, _pt, length_words = struct.unpack_from("!BBH", data, pos)
        end = pos + 4 + 4 * length_words
        if first >> 6 != 2 or end > len(data):
            return
        yield data[pos:end]
        pos = end
