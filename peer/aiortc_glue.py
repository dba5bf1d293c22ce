"""Every place we reach into aiortc or aioice internals, so an upgrade is one file's work.

Pinned to aiortc 1.16 / aioice 0.13 (requirements.txt). Each hook says what it relies on.
"""

from __future__ import annotations

import asyncio
import enum
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import aioice.ice
import aiortc.codecs
import aiortc.rtcrtpreceiver
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
        self._sizes: OrderedDict[int, int] = OrderedDict()
        self.received_bytes = 0
        self.frames = 0
        self.keyframes = 0
        self.decode_errors = 0

    def record(self, timestamp: int, data: bytes) -> None:
        with self._lock:
            self._sizes[timestamp] = len(data)
            if len(self._sizes) > self._KEEP:
                self._sizes.popitem(last=False)
            self.received_bytes += len(data)
            self.frames += 1
            # VP8 frame tag (RFC 6386 §9.1): bit 0 of the first byte is 0 on a keyframe.
            if data and not data[0] & 1:
                self.keyframes += 1

    def record_error(self) -> None:
        with self._lock:
            self.decode_errors += 1

    def size_of(self, timestamp: int | None) -> int | None:
        if timestamp is None:
            return None
        with self._lock:
            return self._sizes.get(timestamp)


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


class _AssemblerAsJitterBuffer:
    """Our FrameAssembler behind the one method aiortc's receiver calls on its jitter buffer:
    add(packet) -> (send PLI?, JitterFrame or None), with the packet's depayloaded data in
    `packet._data` and the VP8 payload descriptor still at the front of `packet.payload`."""

    def __init__(self, assembler: FrameAssembler) -> None:
        self.assembler = assembler

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        data: bytes = getattr(packet, "_data", b"")
        descriptor = packet.payload[0] if packet.payload else 0
        # RFC 7741 §4.2: S bit (0x10) with partition index 0 marks the first packet of a frame.
        frame_start = bool(descriptor & 0x10) and descriptor & 0x07 == 0
        # RFC 6386 §9.1: bit 0 of the frame tag is 0 on a keyframe.
        keyframe = frame_start and bool(data) and not data[0] & 1
        incoming = IncomingPacket(packet.sequence_number, packet.timestamp, packet.marker == 1,
                                  frame_start, keyframe, data)
        pli, frame = self.assembler.add(incoming, time.monotonic() * 1000.0)
        return pli, (JitterFrame(frame.data, frame.timestamp) if frame else None)


def assemble_frames_at_once(receiver: RTCRtpReceiver, assembler: FrameAssembler) -> None:
    """Replace the video receiver's jitter buffer (aiortc keeps it in a private attribute
    set in RTCRtpReceiver.__init__) with our frame assembler."""
    attribute = "_RTCRtpReceiver__jitter_buffer"
    kind = getattr(receiver, "_RTCRtpReceiver__kind", None)
    if kind != "video" or not hasattr(receiver, attribute):
        raise RuntimeError("aiortc's RTCRtpReceiver changed: update peer/aiortc_glue.py")
    setattr(receiver, attribute, _AssemblerAsJitterBuffer(assembler))


# -- transport-wide congestion control ------------------------------------------------------

TRANSPORT_CC_URI = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
TRANSPORT_CC_EXTENSION_ID = 5  # free in aiortc's shared (BUNDLE) id space: 1-3 are taken
SRTP_AUTH_TAG_BYTES = 10  # HMAC-SHA1-80, what aiortc negotiates
UDP_IPV4_HEADER_BYTES = 28


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
    filtered. Relies on RTCDtlsTransport._send_rtp / _handle_rtcp_data and on
    RTCRtpReceiver._handle_rtp_packet / RTCRtpSender._handle_rtcp_packet."""
    transport: RTCDtlsTransport = transceiver.sender.transport
    original_send = transport._send_rtp
    original_rtcp = transport._handle_rtcp_data
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
        await original_rtcp(data)

    async def handle_rtp_packet(packet: RtpPacket, arrival_time_ms: int) -> None:
        hooks.on_incoming_rtp(packet.extensions.transport_sequence_number, packet.ssrc,
                              now_ms())
        await original_rtp_in(packet, arrival_time_ms)

    async def handle_sender_rtcp(packet: Any) -> None:
        if isinstance(packet, RtcpRtpfbPacket) and packet.fmt == RTCP_RTPFB_NACK:
            packet.lost = hooks.retransmittable(packet.lost, now_ms())
        await original_sender_rtcp(packet)

    transport._send_rtp = send_rtp  # type: ignore[method-assign]
    transport._handle_rtcp_data = handle_rtcp_data  # type: ignore[method-assign]
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
