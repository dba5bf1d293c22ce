"""Hostile input on the media path: mutated datagrams, and a live call to aim them at.

`Mutator` makes datagrams of every kind that reaches a peer's UDP port: RTP (random header
fields, CSRCs, extensions, lying lengths and padding), RTX with an empty payload, RTCP
(random compound packets, transport-cc feedback with random chunks, NACKs with absurdly long
lists, REMB, PLI), STUN with random attributes, TURN ChannelData and plain garbage. It is
seeded: the same seed makes the same datagrams.

Media is SRTP-protected, so what is sent to a call's port is rejected by SRTP unprotect (or
by ICE and DTLS) before any parser of ours sees it. The *decrypted* path is exercised too:
`Flood` hands the same kinds of datagrams to the transport as if SRTP had just accepted
them (`aiortc_glue.deliver_decrypted`), and mutated packets straight to the frame assembler.

`python -m tools.hostile --count 1000000` runs a live two-peer call on loopback (in this
process), floods it, and prints the counts, whether the call survived (exit status 0 when it
did) and, per side, its recovery: the time from the flood's end to the first frame shown that
starts a run of `RECOVERY_FRAMES` (25) frames shown within `RECOVERY_WINDOW_S` (1 s), i.e.
until the side is back to at least 25 fps over a 1 s window (the source sends 30 fps).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import enum
import random
import re
import socket
import struct
import sys
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from peer.aiortc_glue import (
    HostCandidates,
    ReceiveGuardStats,
    SrtpRejections,
    count_srtp_rejections,
    deliver_decrypted,
)
from peer.call import Call, CallConfig
from peer.clock import Clock
from peer.frame_assembler import IncomingPacket

MAX_DATAGRAM_BYTES = 1500
STUN_COOKIE = 0x2112A442
RTCP_SR, RTCP_RR, RTCP_SDES, RTCP_BYE, RTCP_APP, RTCP_RTPFB, RTCP_PSFB = range(200, 207)
NACK_FMT, TWCC_FMT, PLI_FMT, REMB_FMT = 1, 15, 1, 15
# STUN attribute types WebRTC and TURN endpoints parse (RFC 8489, 8656, 8445).
STUN_ATTRIBUTES = (0x0001, 0x0006, 0x0008, 0x0009, 0x000C, 0x000D, 0x0012, 0x0013, 0x0014,
                   0x0015, 0x0016, 0x0019, 0x0020, 0x0024, 0x0025, 0x8022, 0x8028, 0x8029,
                   0x802A, 0xC057)
INJECT_BATCH = 16  # packets handed over in-process between two turns of the event loop
RECOVERY_FRAMES = 25  # back to this many frames shown ...
RECOVERY_WINDOW_S = 1.0  # ... within this long: the side has recovered


class Kind(enum.StrEnum):
    RTP = "rtp"
    RTX_EMPTY = "rtx-empty"
    RTCP = "rtcp"
    TWCC = "twcc"
    NACK = "nack"
    REMB = "remb"
    PLI = "pli"
    STUN = "stun"
    CHANNEL_DATA = "channel-data"
    GARBAGE = "garbage"


RTP_KINDS = (Kind.RTP, Kind.RTX_EMPTY)
RTCP_KINDS = (Kind.RTCP, Kind.TWCC, Kind.NACK, Kind.REMB, Kind.PLI)


@dataclass(frozen=True)
class Target:
    """What the datagrams aim at: SSRCs and payload types the call really uses, so that
    mutated packets reach the routing and parsing past the first check. Empty: random."""

    ssrcs: tuple[int, ...] = ()
    payload_types: tuple[int, ...] = ()
    # An authenticated RTCP BYE ends the remote track by design (RFC 3550 §6.6): leave it
    # out of what is handed to a call as if decrypted.
    bye: bool = True


class Mutator:
    def __init__(self, seed: int, target: Target = Target()) -> None:
        self.rng = random.Random(seed)
        self.target = target

    def make(self, kind: Kind) -> bytes:
        make: Callable[[], bytes] = getattr(self, "_" + kind.value.replace("-", "_"))
        data = make()
        if not self.target.bye and kind in RTCP_KINDS:
            data = _without_bye(data)
        return data

    # -- helpers ----------------------------------------------------------------------------

    def _ssrc(self) -> int:
        if self.target.ssrcs and self.rng.random() < 0.7:
            return self.rng.choice(self.target.ssrcs)
        return self.rng.getrandbits(32)

    def _pt(self) -> int:
        if self.target.payload_types and self.rng.random() < 0.7:
            return self.rng.choice(self.target.payload_types)
        return self.rng.getrandbits(7)

    def _lie(self, true_value: int, bits: int) -> int:
        """Mostly the true value of a length field; sometimes anything that fits."""
        r = self.rng.random()
        if r < 0.8:
            return true_value
        if r < 0.9:
            return max(0, true_value + self.rng.randint(-3, 3)) % (1 << bits)
        return self.rng.getrandbits(bits)

    def _cut(self, data: bytes) -> bytes:
        """Sometimes truncate, flip a bit or append junk."""
        r = self.rng.random()
        if r < 0.1 and data:
            return data[: self.rng.randrange(len(data))]
        if r < 0.2 and data:
            i = self.rng.randrange(len(data))
            return data[:i] + bytes([data[i] ^ (1 << self.rng.randrange(8))]) + data[i + 1:]
        if r < 0.25:
            return data + self.rng.randbytes(self.rng.randint(1, 16))
        return data[:MAX_DATAGRAM_BYTES]

    # -- RTP --------------------------------------------------------------------------------

    def _rtp(self) -> bytes:
        rng = self.rng
        csrc_count = rng.choice((0, 0, 0, 1, rng.randint(0, 15)))
        extension = rng.random() < 0.6
        padding = rng.random() < 0.1
        first = 0x80 | (0x20 if padding else 0) | (0x10 if extension else 0) | csrc_count
        second = (rng.getrandbits(1) << 7) | self._pt()
        header = struct.pack("!BBHII", first, second, rng.getrandbits(16), rng.getrandbits(32),
                             self._ssrc())
        header += rng.randbytes(4 * csrc_count)
        if extension:
            header += self._rtp_extension()
        payload = rng.randbytes(rng.choice((0, 1, 2, rng.randint(0, 1200))))
        if padding:
            payload += bytes([rng.choice((0, 1, 255, rng.getrandbits(8)))])
        return self._cut(header + payload)

    def _rtp_extension(self) -> bytes:
        rng = self.rng
        profile = rng.choice((0xBEDE, 0xBEDE, 0x1000, rng.getrandbits(16)))
        body = bytearray()
        for _ in range(rng.randint(0, 6)):
            if profile == 0xBEDE:  # one-byte elements (RFC 8285 §4.2)
                length = rng.randint(0, 15)
                body.append((rng.randint(0, 15) << 4) | length)
                body += rng.randbytes(length + 1)
            else:  # two-byte elements (§4.3)
                length = rng.randint(0, 20)
                body += bytes([rng.getrandbits(8), length]) + rng.randbytes(length)
        body += bytes(-len(body) % 4)
        return struct.pack("!HH", profile, self._lie(len(body) // 4, 16)) + bytes(body)

    def _rtx_empty(self) -> bytes:
        rng = self.rng
        first = 0x80 | (0x10 if rng.random() < 0.3 else 0)
        header = struct.pack("!BBHII", first, (rng.getrandbits(1) << 7) | self._pt(),
                             rng.getrandbits(16), rng.getrandbits(32), self._ssrc())
        if first & 0x10:
            header += struct.pack("!HH", 0xBEDE, 1) + bytes([0x51, 0, 1, 0])
        return header + rng.randbytes(rng.choice((0, 0, 1)))

    # -- RTCP -------------------------------------------------------------------------------

    def _rtcp_packet(self, count: int, packet_type: int, body: bytes) -> bytes:
        body += bytes(-len(body) % 4)
        first = 0x80 | (count & 0x1F)
        return struct.pack("!BBH", first, packet_type, self._lie(len(body) // 4, 16)) + body

    def _rtcp(self) -> bytes:
        rng = self.rng
        parts = []
        for _ in range(rng.randint(1, 4)):
            packet_type = rng.choice((RTCP_SR, RTCP_RR, RTCP_SDES, RTCP_BYE, RTCP_APP,
                                      RTCP_RTPFB, RTCP_PSFB, rng.getrandbits(8)))
            if packet_type == RTCP_BYE and not self.target.bye:
                packet_type = RTCP_RR
            count = rng.choice((0, 1, 2, rng.getrandbits(5)))
            body = struct.pack("!I", self._ssrc()) + rng.randbytes(rng.randint(0, 120))
            if packet_type == RTCP_SDES and rng.random() < 0.5:  # items with lying lengths
                items = b"".join(bytes([rng.randint(0, 9), rng.getrandbits(8)])
                                 + rng.randbytes(rng.randint(0, 12)) for _ in range(3))
                body = struct.pack("!I", self._ssrc()) + items
            parts.append(self._rtcp_packet(count, packet_type, body))
        return self._cut(b"".join(parts))

    def _twcc(self) -> bytes:
        rng = self.rng
        count = rng.choice((1, 2, rng.randint(1, 64), rng.randint(0, 0xFFFF)))
        chunks = []
        for _ in range(rng.randint(0, 24)):
            r = rng.random()
            if r < 0.4:  # run length: any symbol, any run (3 and 0 are invalid)
                chunks.append((rng.getrandbits(2) << 13) | rng.getrandbits(13))
            else:  # status vectors, one- or two-bit
                chunks.append(0x8000 | rng.getrandbits(15))
        body = struct.pack("!IIHHI", self._ssrc(), self._ssrc(), rng.getrandbits(16), count,
                           rng.getrandbits(32))
        body += struct.pack(f"!{len(chunks)}H", *chunks) + rng.randbytes(rng.randint(0, 200))
        packet = self._rtcp_packet(TWCC_FMT, RTCP_RTPFB, body)
        if rng.random() < 0.3:  # behind a receiver report, as in a real compound packet
            packet = self._rtcp_packet(0, RTCP_RR, struct.pack("!I", self._ssrc())) + packet
        return self._cut(packet)

    def _nack(self) -> bytes:
        rng = self.rng
        entries = rng.choice((0, 1, rng.randint(1, 50), 300, (MAX_DATAGRAM_BYTES - 12) // 4))
        fci = b"".join(struct.pack("!HH", rng.getrandbits(16),
                                   rng.choice((0, 0xFFFF, rng.getrandbits(16))))
                       for _ in range(entries))
        body = struct.pack("!II", self._ssrc(), self._ssrc()) + fci
        return self._cut(self._rtcp_packet(NACK_FMT, RTCP_RTPFB, body))

    def _remb(self) -> bytes:
        rng = self.rng
        ssrcs = [self._ssrc() for _ in range(rng.randint(0, 4))]
        claimed = rng.choice((len(ssrcs), rng.getrandbits(8)))
        exponent, mantissa = rng.getrandbits(6), rng.getrandbits(18)
        fci = (rng.choice((b"REMB", b"REMB", rng.randbytes(4)))
               + struct.pack("!I", (claimed << 24) | (exponent << 18) | mantissa)
               + b"".join(struct.pack("!I", s) for s in ssrcs))
        body = struct.pack("!II", self._ssrc(), 0) + fci
        return self._cut(self._rtcp_packet(REMB_FMT, RTCP_PSFB, body))

    def _pli(self) -> bytes:
        rng = self.rng
        body = struct.pack("!II", self._ssrc(), self._ssrc())
        body += rng.randbytes(rng.choice((0, 0, 4, rng.randint(0, 40))))
        fmt = rng.choice((PLI_FMT, PLI_FMT, 4, rng.getrandbits(5)))  # 4: FIR
        return self._cut(self._rtcp_packet(fmt, RTCP_PSFB, body))

    # -- STUN, TURN, garbage ----------------------------------------------------------------

    def _stun(self) -> bytes:
        rng = self.rng
        attributes = bytearray()
        for _ in range(rng.randint(0, 6)):
            attr_type = rng.choice((*STUN_ATTRIBUTES, rng.getrandbits(16)))
            length = rng.choice((0, 1, 2, 4, 8, 20, rng.randint(0, 64)))
            value = rng.randbytes(length)
            attributes += struct.pack("!HH", attr_type, self._lie(length, 16)) + value
            attributes += bytes(-length % 4)
        message_type = rng.choice((0x0001, 0x0101, 0x0111, 0x0011, 0x0003, 0x0004, 0x0008,
                                   0x0009, 0x0016, rng.getrandbits(14)))
        header = struct.pack("!HHI", message_type, self._lie(len(attributes), 16),
                             rng.choice((STUN_COOKIE, STUN_COOKIE, rng.getrandbits(32))))
        return self._cut(header + rng.randbytes(12) + bytes(attributes))

    def _channel_data(self) -> bytes:
        rng = self.rng
        payload = rng.randbytes(rng.choice((0, 1, 4, rng.randint(0, 1200))))
        channel = rng.choice((0x4000, 0x4001, rng.randint(0x4000, 0x7FFF)))
        return self._cut(struct.pack("!HH", channel, self._lie(len(payload), 16)) + payload)

    def _garbage(self) -> bytes:
        rng = self.rng
        data = rng.randbytes(rng.choice((0, 1, 3, rng.randint(0, MAX_DATAGRAM_BYTES))))
        if data and rng.random() < 0.5:  # aim at each demultiplexing range (RFC 7983)
            first = rng.choice((rng.randint(0, 3), rng.randint(20, 63), rng.randint(64, 79),
                                rng.randint(128, 191)))
            data = bytes([first]) + data[1:]
        return data


def _without_bye(data: bytes) -> bytes:
    """Turn every BYE a receiver would find in a compound packet (walking it by its length
    fields, as aiortc does) into a receiver report: mutations can make a BYE of anything."""
    out = bytearray(data)
    pos = 0
    while pos + 4 <= len(out):
        if out[pos + 1] == RTCP_BYE:
            out[pos + 1] = RTCP_RR
        pos += 4 + 4 * struct.unpack_from("!H", out, pos + 2)[0]
    return bytes(out)


# -- a live call and the flood --------------------------------------------------------------


class FaultRecorder:
    """Every exception that escapes a callback of the event loop or a thread."""

    def __init__(self) -> None:
        self.loop_errors: list[str] = []
        self.thread_errors: list[str] = []
        self._previous_hook: Callable[[threading.ExceptHookArgs], Any] | None = None

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        def on_loop_error(_loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
            exc = context.get("exception")
            self.loop_errors.append(f"{context.get('message')}: {exc!r}")

        def on_thread_error(args: threading.ExceptHookArgs) -> None:
            self.thread_errors.append(f"{args.thread}: {args.exc_value!r}")

        loop.set_exception_handler(on_loop_error)
        self._previous_hook = threading.excepthook
        threading.excepthook = on_thread_error

    def uninstall(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.set_exception_handler(None)
        if self._previous_hook is not None:
            threading.excepthook = self._previous_hook

    @property
    def errors(self) -> list[str]:
        return self.loop_errors + self.thread_errors


@dataclass
class Side:
    call: Call
    srtp: SrtpRejections | None = None

    @property
    def frames_shown(self) -> int:
        return len(self.call.receiver.frames)

    @property
    def state(self) -> str:
        return str(self.call.pc.connectionState)

    @property
    def guard(self) -> ReceiveGuardStats:
        return self.call.guard

    def shown_since(self, wall_s: float) -> list[float]:
        return [f.shown_at for f in self.call.receiver.frames if f.shown_at >= wall_s]

    def feedback_refused(self) -> dict[str, int]:
        """What this side's sender refused of the feedback it heard, by reason."""
        stats = dataclasses.asdict(self.call.session.congestion.transport.stats)
        return {k: v for k, v in stats.items() if k.startswith("refused") and v}

    def media_addresses(self) -> list[tuple[str, int]]:
        """The UDP addresses of this side's candidates in its SDP (where its ICE listens)."""
        sdp = self.call.pc.localDescription.sdp
        found = re.findall(r"a=candidate:\S+ \d+ udp \d+ (\S+) (\d+) typ (host|relay)", sdp,
                           re.IGNORECASE)
        # One address each: the audio and video sections share one bundled transport.
        return list(dict.fromkeys((host, int(port)) for host, port, _ in found))

    def transceiver(self) -> Any:
        return self.call.pc.getTransceivers()[0]


class LivePair:
    """Two peers of the project in this process (peer.call.Call, with every hook the real
    call installs), negotiated directly instead of through signaling."""

    def __init__(self, config: CallConfig) -> None:
        self.clock = Clock()  # the process's one clock, for both calls
        self.sides = (Side(Call(config, self.clock)), Side(Call(config, self.clock)))

    async def connect(self, timeout_s: float = 20.0) -> None:
        a, b = (side.call for side in self.sides)
        for call, other in ((a, b), (b, a)):
            call.receiver.remote_clock = other.source.clock
        await a.pc.setLocalDescription(await a.pc.createOffer())
        await b.pc.setRemoteDescription(a.pc.localDescription)
        await b.pc.setLocalDescription(await b.pc.createAnswer())
        await a.pc.setRemoteDescription(b.pc.localDescription)
        await asyncio.wait_for(asyncio.gather(a.connected.wait(), b.connected.wait()),
                               timeout_s)
        for side in self.sides:
            side.srtp = count_srtp_rejections(side.transceiver().receiver.transport)

    async def wait_frames(self, count: int, timeout_s: float) -> bool:
        """Until every side has shown `count` more frames; False when time ran out."""
        start = [side.frames_shown for side in self.sides]
        deadline = self.clock.now_s() + timeout_s
        while self.clock.now_s() < deadline:
            if all(s.frames_shown - n >= count for s, n in zip(self.sides, start, strict=True)):
                return True
            await asyncio.sleep(0.05)
        return False

    def target(self) -> Target:
        """The SSRCs and payload types both sides announced in their SDP."""
        sdp = "".join(side.call.pc.localDescription.sdp for side in self.sides)
        ssrcs = {int(s) for s in re.findall(r"a=ssrc:(\d+) ", sdp)}
        payload_types = {int(p) for p in re.findall(r"a=rtpmap:(\d+) ", sdp)}
        return Target(tuple(sorted(ssrcs)), tuple(sorted(payload_types)))

    async def close(self) -> None:
        for side in self.sides:
            await side.call.hang_up()


@dataclass
class FloodReport:
    sent: Counter[str] = field(default_factory=Counter)  # lane -> datagrams
    send_errors: int = 0
    srtp_range: int = 0  # sent to a port with a first byte that makes it SRTP or SRTCP

    @property
    def total(self) -> int:
        return sum(self.sent.values())


class Flood:
    """Sends mutated datagrams at a live pair: to its UDP ports ("wire"), into its transports
    as if decrypted ("decrypted"), and as packets into its frame assemblers ("assembler")."""

    def __init__(self, pair: LivePair, seed: int = 1, wire: bool = True,
                 decrypted: bool = True, assembler: bool = True,
                 wire_addresses: list[tuple[str, int]] | None = None) -> None:
        self.pair = pair
        self.mutator = Mutator(seed, pair.target())
        self.decrypted_mutator = Mutator(seed + 1, replace(pair.target(), bye=False))
        self.report = FloodReport()
        self.wire_addresses = (wire_addresses if wire_addresses is not None
                               else [a for s in pair.sides for a in s.media_addresses()])
        self.lanes: list[tuple[str, Kind | None]] = []
        if wire and self.wire_addresses:
            self.lanes += [("wire", kind) for kind in Kind]
        if decrypted:
            self.lanes += [("decrypted", kind) for kind in (*RTP_KINDS, *RTCP_KINDS)]
        if assembler:
            self.lanes.append(("assembler", None))
        if not self.lanes:
            raise ValueError("a flood needs at least one of wire, decrypted, assembler")

    async def run(self, count: int, progress: Callable[[int], None] | None = None) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        sock.bind(("127.0.0.1", 0))
        try:
            for index in range(count):
                lane, kind = self.lanes[index % len(self.lanes)]
                side = self.pair.sides[(index // len(self.lanes)) % 2]
                if lane == "wire":
                    assert kind is not None
                    address = self.wire_addresses[index % len(self.wire_addresses)]
                    self._send(sock, self.mutator.make(kind), address)
                    # One turn of the loop per datagram sent: asyncio reads one datagram per
                    # socket per turn, so the receiving side keeps up and the kernel drops
                    # nothing (else the flood only measures the socket buffer, and starves
                    # ICE consent checks until the call expires: a volume attack, not input).
                    await asyncio.sleep(0)
                elif lane == "decrypted":
                    assert kind is not None
                    transport = side.transceiver().receiver.transport
                    await deliver_decrypted(transport, self.decrypted_mutator.make(kind))
                else:
                    self._assemble(side)
                self.report.sent[f"{lane} {kind or 'packet'}"] += 1
                if index % INJECT_BATCH == INJECT_BATCH - 1:
                    await asyncio.sleep(0)
                if progress is not None and index % 10_000 == 9_999:
                    progress(index + 1)
        finally:
            sock.close()

    def _send(self, sock: socket.socket, data: bytes, address: tuple[str, int]) -> None:
        try:
            sock.sendto(data, address)
        except OSError:  # buffer full: UDP may drop, and so do we
            self.report.send_errors += 1
            return
        if data and 128 <= data[0] < 192:
            self.report.srtp_range += 1

    def _assemble(self, side: Side) -> None:
        rng = self.mutator.rng
        assembler = side.call.receiver.assembler
        seq = rng.getrandbits(16)
        packet = IncomingPacket(seq, rng.getrandbits(32), rng.random() < 0.5,
                                rng.random() < 0.5, rng.random() < 0.2,
                                rng.randbytes(rng.randint(0, 64)))
        assembler.add(packet, self.pair.clock.now_ms())


def recovery_s(shown_at: list[float], since_s: float, frames: int = RECOVERY_FRAMES,
               window_s: float = RECOVERY_WINDOW_S) -> float | None:
    """From `since_s` to the first frame shown that starts a run of `frames` frames within
    `window_s` (a sliding window at frames / window_s fps); None if there is none yet."""
    times = sorted(t for t in shown_at if t >= since_s)
    for first, last in zip(times, times[frames - 1:], strict=False):
        if last - first <= window_s:
            return first - since_s
    return None


def fps_by_second(shown_at: list[float], since_s: float, seconds: int) -> tuple[int, ...]:
    """Frames shown in each whole second after `since_s`."""
    counts = [0] * seconds
    for t in shown_at:
        index = int(t - since_s) if t >= since_s else -1
        if 0 <= index < seconds:
            counts[index] += 1
    return tuple(counts)


@dataclass(frozen=True)
class Recovery:
    """One side after the flood: when it was back to RECOVERY_FRAMES within
    RECOVERY_WINDOW_S (None: not within the wait), and frames shown per second from the
    flood's end."""

    recovery_s: float | None
    fps: tuple[int, ...]


@dataclass(frozen=True)
class Outcome:
    survived: bool
    states: tuple[str, ...]
    frames_before: int
    frames_after: tuple[int, ...]  # per side, shown within `after_s` of the flood's end
    flood: FloodReport
    srtp_rejected: int
    errors: tuple[str, ...]
    flood_s: float
    after_s: float
    recoveries: tuple[Recovery, ...] = ()
    guards: tuple[ReceiveGuardStats, ...] = ()
    refused: tuple[dict[str, int], ...] = ()  # per side: feedback its sender refused


async def attack(count: int, seed: int = 1, settle_frames: int = 30,
                 config: CallConfig | None = None,
                 progress: Callable[[int], None] | None = None,
                 after_timeout_s: float = 60.0, fps_seconds: int = 10) -> Outcome:
    """Set up a live pair, let it show frames, flood it with `count` datagrams, then see
    whether each side shows `settle_frames` more frames and is back to RECOVERY_FRAMES per
    RECOVERY_WINDOW_S, within `after_timeout_s` (and `fps_seconds` at the least, to show
    the frame rate after the flood)."""
    loop = asyncio.get_running_loop()
    recorder = FaultRecorder()
    recorder.install(loop)
    pair = LivePair(config or CallConfig("ws://127.0.0.1:9/ws", "hostile", measure_quality=False,
                                         host_candidates=HostCandidates.LOOPBACK))
    clock = pair.clock
    try:
        await pair.connect()
        await pair.wait_frames(settle_frames, 20.0)
        before = sum(s.frames_shown for s in pair.sides)
        flood = Flood(pair, seed)
        started = clock.now_s()
        await flood.run(count, progress)
        flood_s = clock.now_s() - started
        flood_end = clock.wall_s()
        after_start = [s.frames_shown for s in pair.sides]
        deadline = clock.now_s() + after_timeout_s
        while clock.now_s() < deadline:
            recovered = all(recovery_s(s.shown_since(flood_end), flood_end) is not None
                            for s in pair.sides)
            settled = all(s.frames_shown - n >= settle_frames
                          for s, n in zip(pair.sides, after_start, strict=True))
            if recovered and settled and clock.wall_s() - flood_end >= fps_seconds:
                break
            await asyncio.sleep(0.1)
        after_s = clock.now_s() - started - flood_s
        after = tuple(s.frames_shown - n for s, n in zip(pair.sides, after_start, strict=True))
        recoveries = tuple(Recovery(recovery_s(s.shown_since(flood_end), flood_end),
                                    fps_by_second(s.shown_since(flood_end), flood_end,
                                                  fps_seconds))
                           for s in pair.sides)
        states = tuple(s.state for s in pair.sides)
        shown_again = min(after) >= settle_frames
        survived = shown_again and all(s == "connected" for s in states)
        rejected = sum(s.srtp.rejected for s in pair.sides if s.srtp is not None)
        refused = tuple(s.feedback_refused() for s in pair.sides)
    finally:
        await pair.close()
        recorder.uninstall(loop)
    return Outcome(survived and not recorder.errors, states, before, after, flood.report,
                   rejected, tuple(recorder.errors), flood_s, after_s, recoveries,
                   tuple(s.guard for s in pair.sides), refused)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.hostile", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1_000_000,
                        help="mutated datagrams in all (default %(default)s)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.count < 0:
        parser.error("--count must be >= 0")

    def progress(done: int) -> None:
        if done % 100_000 == 0:
            print(f"hostile: {done} datagrams sent", file=sys.stderr, flush=True)

    import logging
    logging.basicConfig(level=logging.ERROR)
    with contextlib.suppress(KeyboardInterrupt):
        outcome = asyncio.run(attack(args.count, args.seed, progress=progress))
        for lane, sent in sorted(outcome.flood.sent.items()):
            print(f"{lane:24} {sent}")
        print(f"total {outcome.flood.total} datagrams in {outcome.flood_s:.1f} s, "
              f"{outcome.flood.send_errors} not sent (socket buffer full)")
        print(f"SRTP/SRTCP rejected {outcome.srtp_rejected} of {outcome.flood.srtp_range} sent "
              "in its range (the rest: lost in socket buffers, or too long for SRTP)")
        for index, guard in enumerate(outcome.guards):
            print(f"side {index} guards: {guard}")
        for index, refused in enumerate(outcome.refused):
            print(f"side {index} sender refused feedback: {refused or 'none'}")
        print(f"frames shown before the flood {outcome.frames_before}; after it, per side "
              f"{', '.join(map(str, outcome.frames_after))} in {outcome.after_s:.1f} s; "
              f"connection {', '.join(outcome.states)}")
        for index, recovery in enumerate(outcome.recoveries):
            took = ("not within the wait" if recovery.recovery_s is None
                    else f"{recovery.recovery_s:.2f} s")
            print(f"side {index} recovery (flood end -> {RECOVERY_FRAMES} frames shown within "
                  f"{RECOVERY_WINDOW_S:g} s): {took}; frames shown per second after the "
                  f"flood: {' '.join(map(str, recovery.fps))}")
        for error in outcome.errors[:10]:
            print(f"escaped: {error}")
        print(f"call survived: {'yes' if outcome.survived else 'NO'}")
        return 0 if outcome.survived else 1
    return 130


if __name__ == "__main__":
    raise SystemExit(main())
