"""Every place we reach into aiortc or aioice internals, so an upgrade is one file's work.

Pinned to aiortc 1.16 / aioice 0.13 (requirements.txt). Each hook says what it relies on.
"""

from __future__ import annotations

import asyncio
import enum
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import aioice.ice
import aiortc.clock
import aiortc.codecs
import aiortc.rtcrtpreceiver
import pylibsrtp
from aiortc import (
    MediaStreamTrack,
    RTCDtlsTransport,
    RTCIceServer,
    RTCRtpReceiver,
    RTCRtpSender,
    RTCRtpTransceiver,
)
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcrtpparameters import RTCRtcpFeedback, RTCRtpHeaderExtensionParameters
from aiortc.rtp import RTCP_RTPFB_NACK, RtcpRtpfbPacket, RtpPacket, is_rtcp
from av.frame import Frame

from peer.frame_assembler import FrameAssembler, IncomingPacket


class HostCandidates(enum.StrEnum):
    """Which local addresses ICE offers as host candidates."""

    AUTO = "auto"  # the machine's addresses; loopback too when it has no other
    LOOPBACK = "loopback"  # 127.0.0.1 only: calls that must stay on this machine
    ALL = "all"  # the machine's addresses and loopback


_aioice_host_addresses = aioice.ice.get_host_addresses


def use_host_candidates(mode: HostCandidates) -> None:
    """aioice leaves 127.0.0.1 out of its host candidates, so a host whose only interface is
    `lo` cannot call at all. aioice.ice.get_host_addresses is the one place it decides."""

    def host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        found = _aioice_host_addresses(use_ipv4=use_ipv4, use_ipv6=use_ipv6)
        loopback = ["127.0.0.1"] if use_ipv4 else []
        if mode is HostCandidates.LOOPBACK:
            return loopback
        if mode is HostCandidates.ALL or not found:
            return found + loopback
        return found

    aioice.ice.get_host_addresses = host_addresses


def ice_servers(url: str | None, user: str | None) -> list[RTCIceServer]:
    """RTCIceServer list from the CLI. Empty when none is given: aiortc would otherwise fall
    back to a public STUN server, which these machines must never contact."""
    if not url:
        return []
    username = credential = None
    if user:
        username, _, credential = user.partition(":")
    return [RTCIceServer(urls=url, username=username, credential=credential)]


def prefer_vp8(transceiver: RTCRtpTransceiver) -> None:
    codecs = RTCRtpSender.getCapabilities("video").codecs
    transceiver.setCodecPreferences(
        [c for c in codecs if c.mimeType in ("video/VP8", "video/rtx")]
    )


class DecodeLog:
    """Sizes and keyframe flags of the encoded frames the decoder saw, by RTP timestamp.

    Filled from aiortc's decoder thread, read from the event loop; a lock keeps it whole.
    """

    _KEEP = 1024

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._frames: OrderedDict[int, tuple[int, bool]] = OrderedDict()  # size, keyframe
        self.received_bytes = 0
        self.frames = 0
        self.keyframes = 0
        self.decode_errors = 0

    def record(self, timestamp: int, data: bytes) -> None:
        with self._lock:
            # VP8 frame tag (RFC 6386 §9.1): bit 0 of the first byte is 0 on a keyframe.
            keyframe = bool(data) and not data[0] & 1
            self._frames[timestamp] = (len(data), keyframe)
            if len(self._frames) > self._KEEP:
                self._frames.popitem(last=False)
            self.received_bytes += len(data)
            self.frames += 1
            self.keyframes += keyframe

    def record_error(self) -> None:
        with self._lock:
            self.decode_errors += 1

    def size_of(self, timestamp: int | None) -> int | None:
        entry = self._entry(timestamp)
        return entry[0] if entry else None

    def is_keyframe(self, timestamp: int | None) -> bool:
        entry = self._entry(timestamp)
        return bool(entry and entry[1])

    def _entry(self, timestamp: int | None) -> tuple[int, bool] | None:
        if timestamp is None:
            return None
        with self._lock:
            return self._frames.get(timestamp)


_decode_log = DecodeLog()
_aiortc_get_decoder = aiortc.rtcrtpreceiver.get_decoder


class _LoggingDecoder:
    """Wraps aiortc's decoder (called from its decoder_worker thread with a JitterFrame that
    has .data and .timestamp); decoded frames keep the RTP timestamp as their pts."""

    def __init__(self, inner: Any, log: DecodeLog) -> None:
        self._inner, self._log = inner, log

    def decode(self, encoded_frame: Any) -> list[Frame]:
        self._log.record(encoded_frame.timestamp, encoded_frame.data)
        try:
            frames: list[Frame] = self._inner.decode(encoded_frame)
            return frames
        except Exception:
            self._log.record_error()
            raise


def decode_log() -> DecodeLog:
    """The process's decode log; installs the decoder hook on first use."""

    def get_decoder(codec: Any) -> Any:
        return _LoggingDecoder(_aiortc_get_decoder(codec), _decode_log)

    aiortc.rtcrtpreceiver.get_decoder = get_decoder
    return _decode_log


def newest_frame(track: MediaStreamTrack, frame: Frame) -> tuple[Frame, int]:
    """Given a frame just received, skip to the newest one already decoded behind it.

    Returns it and how many older frames were dropped: frames never wait in a queue.
    Relies on aiortc's RemoteStreamTrack keeping decoded frames in `_queue`.
    """
    queue: asyncio.Queue[Frame | None] = getattr(track, "_queue")  # noqa: B009
    dropped = 0
    while not queue.empty():
        newer = queue.get_nowait()
        if newer is None:  # end of track: leave it for the next recv()
            queue.put_nowait(None)
            break
        frame, dropped = newer, dropped + 1
    return frame, dropped


_NACK_GENERATOR = "_RTCRtpReceiver__nack_generator"  # None when aiortc sends no NACK


class _AssemblerAsJitterBuffer:
    """Our FrameAssembler behind the one method aiortc's receiver calls on its jitter buffer:
    add(packet) -> (send PLI?, JitterFrame or None), with the packet's depayloaded data in
    `packet._data` and the VP8 payload descriptor still at the front of `packet.payload`.
    It also sends the assembler's repeated NACKs, through the receiver's own RTCP sender."""

    def __init__(self, receiver: RTCRtpReceiver, assembler: FrameAssembler,
                 on_keyframe_request: Callable[[], None] | None) -> None:
        self.receiver = receiver
        self.assembler = assembler
        self._on_keyframe_request = on_keyframe_request
        self._sending: set[asyncio.Task[None]] = set()

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        data: bytes = getattr(packet, "_data", b"")
        descriptor = packet.payload[0] if packet.payload else 0
        # RFC 7741 §4.2: S bit (0x10) with partition index 0 marks the first packet of a frame.
        frame_start = bool(descriptor & 0x10) and descriptor & 0x07 == 0
        # RFC 6386 §9.1: bit 0 of the frame tag is 0 on a keyframe.
        keyframe = frame_start and bool(data) and not data[0] & 1
        incoming = IncomingPacket(packet.sequence_number, packet.timestamp, packet.marker == 1,
                                  frame_start, keyframe, data)
        now_ms = time.monotonic() * 1000.0
        nack = getattr(self.receiver, _NACK_GENERATOR) is not None  # see stop_nacks
        arrival = self.assembler.receive(incoming, now_ms, nack)
        if arrival.pli and self._on_keyframe_request is not None:
            self._on_keyframe_request()
        if arrival.nack_again:
            task = asyncio.ensure_future(
                self.receiver._send_rtcp_nack(packet.ssrc, arrival.nack_again))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)
        frame = arrival.frame
        return arrival.pli, (JitterFrame(frame.data, frame.timestamp) if frame else None)


def assemble_frames_at_once(receiver: RTCRtpReceiver, assembler: FrameAssembler,
                            on_keyframe_request: Callable[[], None] | None = None) -> None:
    """Replace the video receiver's jitter buffer (aiortc keeps it in a private attribute
    set in RTCRtpReceiver.__init__) with our frame assembler; `on_keyframe_request` hears of
    each PLI it makes aiortc send."""
    attribute = "_RTCRtpReceiver__jitter_buffer"
    kind = getattr(receiver, "_RTCRtpReceiver__kind", None)
    if kind != "video" or not hasattr(receiver, attribute):
        raise RuntimeError("aiortc's RTCRtpReceiver changed: update peer/aiortc_glue.py")
    setattr(receiver, attribute,
            _AssemblerAsJitterBuffer(receiver, assembler, on_keyframe_request))


def stop_nacks(receiver: RTCRtpReceiver) -> None:
    """Make the video receiver send no NACK (aiortc always does, negotiated or not): losses
    are then repaired only by a keyframe, which the frame assembler asks for by PLI."""
    if not hasattr(receiver, _NACK_GENERATOR):
        raise RuntimeError("aiortc's RTCRtpReceiver changed: update peer/aiortc_glue.py")
    setattr(receiver, _NACK_GENERATOR, None)


# -- transport-wide congestion control ------------------------------------------------------

TRANSPORT_CC_URI = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
TRANSPORT_CC_EXTENSION_ID = 5  # free in aiortc's shared (BUNDLE) id space: 1-3 are taken
SRTP_AUTH_TAG_BYTES = 10  # HMAC-SHA1-80, what aiortc negotiates
UDP_IPV4_HEADER_BYTES = 28
MAX_REMOTE_SSRCS = 4  # media and RTX, and room for one restart of each


def negotiate_transport_cc() -> None:
    """Offer and accept the transport-wide sequence number extension and transport-cc
    feedback for video. aiortc parses the extension but leaves it out of its SDP; its offers
    and answers are built from the module tables aiortc.codecs.HEADER_EXTENSIONS and CODECS."""
    extensions = aiortc.codecs.HEADER_EXTENSIONS["video"]
    if not any(e.uri == TRANSPORT_CC_URI for e in extensions):
        extensions.append(RTCRtpHeaderExtensionParameters(TRANSPORT_CC_EXTENSION_ID,
                                                          TRANSPORT_CC_URI))
    for codec in aiortc.codecs.CODECS["video"]:
        if codec.mimeType != "video/rtx" and not any(
                f.type == "transport-cc" for f in codec.rtcpFeedback):
            codec.rtcpFeedback.append(RTCRtcpFeedback(type="transport-cc"))


def wire_size(rtp_bytes: int) -> int:
    """Bytes a plain RTP packet takes as a UDP/IPv4 datagram after SRTP protection."""
    return rtp_bytes + SRTP_AUTH_TAG_BYTES + UDP_IPV4_HEADER_BYTES


class TransportHooks(Protocol):
    """What the congestion-control side does with the traffic of one DTLS transport."""

    def on_outgoing_rtp(self, data: bytes) -> None:
        """Take an RTP packet aiortc wants to send (it is sent later, by the pacer)."""

    def on_incoming_rtp(self, transport_seq: int | None, ssrc: int, now_ms: float) -> None: ...

    def on_incoming_rtcp(self, data: bytes, now_ms: float) -> None: ...

    def retransmittable(self, sequence_numbers: list[int], now_ms: float) -> list[int]:
        """The NACKed packets still worth resending (they can arrive in time to be shown)."""


class TransportAccess:
    """What the hooks may do with the transport: send now, and stamp transport seq nos."""

    def __init__(self, transport: RTCDtlsTransport,
                 send: Callable[[bytes], Awaitable[None]]) -> None:
        self._transport = transport
        self._send = send

    async def send_now(self, data: bytes) -> bool:
        """Send an RTP or RTCP packet past the hooks; False when the transport is closed."""
        try:
            await self._send(data)
        except ConnectionError:
            return False
        return True

    def parse_rtp(self, data: bytes) -> RtpPacket:
        return RtpPacket.parse(data, self._transport._rtp_header_extensions_map)

    def serialize(self, packet: RtpPacket, transport_seq: int | None = None) -> bytes:
        """The packet as bytes, with its transport-wide sequence number (16 bits) when given.
        The extension map is the transport's, configured by aiortc from the negotiated SDP."""
        if transport_seq is not None:
            packet.extensions.transport_sequence_number = transport_seq & 0xFFFF
        return packet.serialize(self._transport._rtp_header_extensions_map)


def hook_transport(transceiver: RTCRtpTransceiver, hooks: TransportHooks) -> TransportAccess:
    """Route one transceiver's RTP through `hooks`: outgoing RTP (media and RTX) goes to
    hooks.on_outgoing_rtp instead of straight to SRTP; incoming RTP is reported with its
    transport seq no; incoming RTCP is shown to the hooks before aiortc handles it; NACKs are
    filtered; a packet that makes aiortc's handling raise is dropped and counted
    (receive_guard_stats), since the exception would end the transport, and so is a datagram
    too long for SRTP (see SrtpRejections). Relies on
    RTCDtlsTransport._send_rtp / _handle_rtcp_data / _handle_rtp_data and on
    RTCRtpReceiver._handle_rtp_packet / RTCRtpSender._handle_rtcp_packet."""
    transport: RTCDtlsTransport = transceiver.sender.transport
    original_send = transport._send_rtp
    original_rtcp = transport._handle_rtcp_data
    original_rtp_data = transport._handle_rtp_data
    receiver, sender = transceiver.receiver, transceiver.sender
    original_rtp_in = receiver._handle_rtp_packet
    original_sender_rtcp = sender._handle_rtcp_packet

    def now_ms() -> float:
        return asyncio.get_running_loop().time() * 1000.0

    async def send_rtp(data: bytes) -> None:
        if is_rtcp(data):
            await original_send(data)
        else:
            hooks.on_outgoing_rtp(data)

    async def handle_rtcp_data(data: bytes) -> None:
        hooks.on_incoming_rtcp(data, now_ms())
        try:
            await original_rtcp(data)
        except _MALFORMED_ERRORS:  # e.g. a REMB claiming more SSRCs than it holds: the
            _guard_stats.malformed_rtcp += 1  # exception would end the transport's loop

    async def handle_rtp_data(data: bytes, arrival_time_ms: int) -> None:
        try:
            await original_rtp_data(data, arrival_time_ms)
        except _MALFORMED_ERRORS:  # e.g. a transport-cc extension element of 1 byte
            _guard_stats.malformed_rtp += 1

    remote_ssrcs: set[int] = set()

    async def handle_rtp_packet(packet: RtpPacket, arrival_time_ms: int) -> None:
        if packet.ssrc not in remote_ssrcs:
            # aiortc keeps statistics per SSRC and reports them all in one RR; past about
            # 60 the RR is too long for SRTCP to protect, the ValueError ends the receiver's
            # RTCP task, and closing the call then waits for that task forever.
            if len(remote_ssrcs) >= MAX_REMOTE_SSRCS:
                _guard_stats.unknown_ssrc += 1
                return
            remote_ssrcs.add(packet.ssrc)
        hooks.on_incoming_rtp(packet.extensions.transport_sequence_number, packet.ssrc,
                              now_ms())
        await original_rtp_in(packet, arrival_time_ms)

    async def handle_sender_rtcp(packet: Any) -> None:
        if isinstance(packet, RtcpRtpfbPacket) and packet.fmt == RTCP_RTPFB_NACK:
            packet.lost = hooks.retransmittable(packet.lost, now_ms())
        await original_sender_rtcp(packet)

    transport._send_rtp = send_rtp  # type: ignore[method-assign]
    transport._handle_rtcp_data = handle_rtcp_data  # type: ignore[method-assign]
    transport._handle_rtp_data = handle_rtp_data  # type: ignore[method-assign]
    _guard_srtp_when_connected(transport)
    receiver._handle_rtp_packet = handle_rtp_packet  # type: ignore[method-assign]
    sender._handle_rtcp_packet = handle_sender_rtcp  # type: ignore[method-assign]
    return TransportAccess(transport, original_send)


def take_keyframe_request(sender: RTCRtpSender) -> bool:
    """True once after the other side asked for a keyframe (PLI or FIR). aiortc only passes
    the request to its own encoder; a track that sends pre-encoded packets reads it here."""
    attribute = "_RTCRtpSender__force_keyframe"
    requested = bool(getattr(sender, attribute, False))
    if requested:
        setattr(sender, attribute, False)
    return requested


def sender_ssrc(sender: RTCRtpSender) -> int:
    return int(sender._ssrc)


# -- hostile input on the receive path ------------------------------------------------------


class SrtpRejections:
    """Stands in for a transport's receiving SRTP session: counts what SRTP/SRTCP unprotect
    refuses (forged, replayed or mangled: aiortc drops those silently) and turns pylibsrtp's
    ValueError for a datagram longer than its 1500-byte buffer into the pylibsrtp.Error
    aiortc handles: left alone, one such datagram from anyone ends the transport."""

    def __init__(self, session: Any) -> None:
        self._session = session
        self.rejected = 0
        self.too_long = 0

    def unprotect(self, data: bytes) -> bytes:
        return self._process(self._session.unprotect, data)

    def unprotect_rtcp(self, data: bytes) -> bytes:
        return self._process(self._session.unprotect_rtcp, data)

    def _process(self, unprotect: Callable[[bytes], bytes], data: bytes) -> bytes:
        try:
            return unprotect(data)
        except pylibsrtp.Error:
            self.rejected += 1
            raise
        except ValueError as exc:
            self.too_long += 1
            raise pylibsrtp.Error(str(exc)) from None


def count_srtp_rejections(transport: RTCDtlsTransport) -> SrtpRejections:
    """Guard and count what SRTP rejects on a transport whose DTLS handshake is done.
    Relies on RTCDtlsTransport keeping its receiving pylibsrtp.Session in `_rx_srtp`."""
    session = getattr(transport, "_rx_srtp", None)
    if session is None:
        raise RuntimeError("the DTLS transport is not connected yet (no SRTP session)")
    if isinstance(session, SrtpRejections):
        return session
    counter = SrtpRejections(session)
    transport._rx_srtp = counter  # type: ignore[assignment]
    return counter


def _guard_srtp_when_connected(transport: RTCDtlsTransport) -> None:
    """aiortc makes the SRTP session when the handshake completes, just before it emits
    "statechange" with state "connected"."""

    @transport.on("statechange")
    def on_state() -> None:
        if transport.state == "connected":
            count_srtp_rejections(transport)


async def deliver_decrypted(transport: RTCDtlsTransport, data: bytes) -> None:
    """Hand `data` to the transport as if SRTP or SRTCP had just accepted it: aiortc's
    RTCDtlsTransport._recv_next does exactly this after unprotect (hooks included), with the
    arrival time on aiortc's own clock."""
    if is_rtcp(data):
        await transport._handle_rtcp_data(data)
    else:
        await transport._handle_rtp_data(data, arrival_time_ms=aiortc.clock.current_ms())


@dataclass
class ReceiveGuardStats:
    """Datagrams and packets dropped because they would have crashed aiortc or aioice."""

    empty: int = 0  # empty datagrams: aiortc's DTLS transport would die on data[0]
    malformed_stun: int = 0  # STUN-looking datagrams aioice's parser choked on
    malformed_rtcp: int = 0  # authenticated RTCP aiortc's handling raised on
    malformed_rtp: int = 0  # authenticated RTP aiortc's handling raised on
    unknown_ssrc: int = 0  # RTP from an SSRC beyond the first MAX_REMOTE_SSRCS


_guard_stats = ReceiveGuardStats()
# What aiortc's and aioice's parsers raise on malformed input besides their ValueError.
_MALFORMED_ERRORS = (struct.error, ValueError, IndexError, KeyError, TypeError)


def receive_guard_stats() -> ReceiveGuardStats:
    """The process's counts of hostile input dropped by the guards in this module."""
    return _guard_stats


_aioice_datagram_received = aioice.ice.StunProtocol.datagram_received


def harden_ice_receive() -> ReceiveGuardStats:
    """Drop, and count, two kinds of datagram a stranger can send to a call's UDP port:
    - an empty one: aioice passes it on as data, and RTCDtlsTransport._recv_next reads
      `data[0]`, so the IndexError ends the transport's receive loop and the call is dead;
    - a STUN message with a malformed attribute: aioice's parse_message raises struct.error
      (it only expects ValueError), which escapes StunProtocol.datagram_received.
    Wraps aioice.ice.StunProtocol.datagram_received (the one place aioice takes datagrams)."""
    if aioice.ice.StunProtocol.datagram_received is not _aioice_datagram_received:
        return _guard_stats

    def datagram_received(self: Any, data: bytes | str, addr: tuple[Any, ...]) -> None:
        if not data:
            _guard_stats.empty += 1
            return
        try:
            _aioice_datagram_received(self, data, addr)
        except _MALFORMED_ERRORS:
            _guard_stats.malformed_stun += 1

    aioice.ice.StunProtocol.datagram_received = datagram_received  # type: ignore[method-assign]
    return _guard_stats
