"""Every place we reach into aiortc or aioice internals, so an upgrade is one file's work.

Pinned to aiortc 1.16 / aioice 0.13 (requirements.txt). Each hook says what it relies on.

State is per call: every hook takes the objects it fills (a DecodeLog, ReceiveGuardStats) or
the mode it follows, so two calls in one process count apart. Where aiortc or aioice leave no
per-connection hook, `install_process_hooks` patches a module function once, and the patch
routes to the connection's own objects (registered per ICE connection, or set for one
connection's candidate gathering) and otherwise behaves as the original.
"""

from __future__ import annotations

import asyncio
import contextvars
import enum
import queue
import struct
import threading
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import aioice.ice
import aiortc.clock
import aiortc.codecs
import aiortc.codecs.opus
import aiortc.rtcrtpreceiver
import aiortc.rtcrtpsender
import aiortc.sdp
import pylibsrtp
from aiortc import (
    MediaStreamTrack,
    RTCDtlsTransport,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCRtpSender,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcrtpparameters import RTCRtcpFeedback, RTCRtpHeaderExtensionParameters
from aiortc.rtp import RTCP_RTPFB_NACK, RtcpRtpfbPacket, RtpPacket, is_rtcp
from av.frame import Frame

from peer.frame_assembler import AssembledFrame, FrameAssembler, IncomingPacket
from peer.nack_generator import BoundedNackGenerator
from peer.playout_delay import (
    PLAYOUT_DELAY_EXTENSION_ID,
    PLAYOUT_DELAY_URI,
    PlayoutDelayConfig,
    add_header_extension,
    negotiated_extension_id,
)


class HostCandidates(enum.StrEnum):
    """Which local addresses ICE offers as host candidates."""

    AUTO = "auto"  # the machine's addresses; loopback too when it has no other
    LOOPBACK = "loopback"  # 127.0.0.1 only: calls that must stay on this machine
    ALL = "all"  # the machine's addresses and loopback


_aioice_host_addresses = aioice.ice.get_host_addresses
# The mode of the connection gathering candidates in this context (see use_host_candidates).
_host_mode: contextvars.ContextVar[HostCandidates | None] = contextvars.ContextVar(
    "host_candidates", default=None)


def _host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    found = _aioice_host_addresses(use_ipv4=use_ipv4, use_ipv6=use_ipv6)
    mode = _host_mode.get()
    if mode is None:  # a connection none of ours configured: aioice's own choice
        return found
    loopback = ["127.0.0.1"] if use_ipv4 else []
    if mode is HostCandidates.LOOPBACK:
        return loopback
    if mode is HostCandidates.ALL or not found:
        return found + loopback
    return found


def use_host_candidates(transceiver: RTCRtpTransceiver, mode: HostCandidates) -> None:
    """aioice leaves 127.0.0.1 out of its host candidates, so a host whose only interface is
    `lo` cannot call at all. aioice.ice.get_host_addresses is the one place it decides, and
    it is called inside Connection.gather_candidates before its first await: this
    connection's gathering runs with `mode` set for it (see install_process_hooks)."""
    connection = ice_connection(transceiver)
    gather = connection.gather_candidates

    async def gather_candidates() -> None:
        token = _host_mode.set(mode)
        try:
            await gather()
        finally:
            _host_mode.reset(token)

    connection.gather_candidates = gather_candidates  # type: ignore[method-assign]


def ice_connection(transceiver: RTCRtpTransceiver) -> aioice.Connection:
    """The aioice connection under a transceiver's transport (made with the transceiver)."""
    connection: aioice.Connection = transceiver.sender.transport.transport.iceGatherer._connection
    return connection


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
    """Sizes and keyframe flags of the encoded frames one call's decoder saw, by RTP
    timestamp, and its decode errors (see log_decoding).

    Errors are counted on aiortc's decoder thread, the rest on the event loop; a lock keeps
    it whole.
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


class _LoggingDecoderQueue(queue.Queue):
    """Stands in for a receiver's decoder queue: each (codec, encoded frame) aiortc hands
    its decoder thread is logged on the way in, with the RTP timestamp the decoded frame
    keeps as its pts (aiortc maps it before the put).

    aiortc queues at most one frame per packet; the frames our assembler freed with it
    (`follow_with`) are queued right behind it, their timestamps mapped as aiortc mapped it.
    """

    def __init__(self, log: DecodeLog) -> None:
        super().__init__()
        self._log = log
        self._following: tuple[int, list[AssembledFrame]] | None = None

    def follow_with(self, rtp_timestamp: int, frames: list[AssembledFrame]) -> None:
        """The next frame aiortc puts (RTP timestamp `rtp_timestamp`) brings `frames`."""
        self._following = (rtp_timestamp, frames) if frames else None

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if item is None:
            super().put(item, block, timeout)
            return
        codec, encoded_frame = item
        self._log.record(encoded_frame.timestamp, encoded_frame.data)
        super().put(item, block, timeout)
        following, self._following = self._following, None
        if following is None:
            return
        first_rtp_timestamp, frames = following
        for frame in frames:
            mapped = encoded_frame.timestamp + (frame.timestamp - first_rtp_timestamp) % (1 << 32)
            self._log.record(mapped, frame.data)
            super().put((codec, JitterFrame(frame.data, mapped)), block, timeout)


class _CountingEvent(threading.Event):
    """Stands in for a receiver's decode-error flag, which aiortc's decoder thread sets on
    every frame libvpx refuses: each set is a decode error."""

    def __init__(self, log: DecodeLog) -> None:
        super().__init__()
        self._log = log

    def set(self) -> None:
        self._log.record_error()
        super().set()


def log_decoding(receiver: RTCRtpReceiver, log: DecodeLog) -> None:
    """Log what `receiver` decodes into `log`. Must run before aiortc starts the receiver
    (RTCRtpReceiver.receive hands its private decoder queue and decode-error event, made in
    __init__, to the decoder thread)."""
    for name in ("_RTCRtpReceiver__decoder_queue", "_RTCRtpReceiver__decoder_error"):
        if not hasattr(receiver, name):
            raise RuntimeError("aiortc's RTCRtpReceiver changed: update peer/aiortc_glue.py")
    if getattr(receiver, "_RTCRtpReceiver__decoder_thread", None) is not None:
        raise RuntimeError("log_decoding must be called before the receiver starts")
    setattr(receiver, "_RTCRtpReceiver__decoder_queue", _LoggingDecoderQueue(log))  # noqa: B010
    setattr(receiver, "_RTCRtpReceiver__decoder_error", _CountingEvent(log))  # noqa: B010


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
                 on_keyframe_request: Callable[[], None] | None,
                 now_ms: Callable[[], float], decoder_queue: _LoggingDecoderQueue) -> None:
        self.receiver = receiver
        self.assembler = assembler
        self._decoder_queue = decoder_queue
        self._now_ms = now_ms
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
        now_ms = self._now_ms()
        nack = getattr(self.receiver, _NACK_GENERATOR) is not None  # see stop_nacks
        arrival = self.assembler.receive(incoming, now_ms, nack)
        if arrival.pli and self._on_keyframe_request is not None:
            self._on_keyframe_request()
        if arrival.nack_again:
            task = asyncio.ensure_future(
                self.receiver._send_rtcp_nack(packet.ssrc, arrival.nack_again))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)
        if not arrival.frames:
            return arrival.pli, None
        first, *rest = arrival.frames
        self._decoder_queue.follow_with(first.timestamp, rest)
        return arrival.pli, JitterFrame(first.data, first.timestamp)


def assemble_frames_at_once(receiver: RTCRtpReceiver, assembler: FrameAssembler,
                            now_ms: Callable[[], float],
                            on_keyframe_request: Callable[[], None] | None = None) -> None:
    """Replace the video receiver's jitter buffer (aiortc keeps it in a private attribute
    set in RTCRtpReceiver.__init__) with our frame assembler, fed arrival times from
    `now_ms` (the call's clock); `on_keyframe_request` hears of each PLI it makes aiortc
    send. Call log_decoding first: frames freed together go to the decoder through its
    queue."""
    attribute = "_RTCRtpReceiver__jitter_buffer"
    kind = getattr(receiver, "_RTCRtpReceiver__kind", None)
    if kind != "video" or not hasattr(receiver, attribute):
        raise RuntimeError("aiortc's RTCRtpReceiver changed: update peer/aiortc_glue.py")
    decoder_queue = getattr(receiver, "_RTCRtpReceiver__decoder_queue", None)
    if not isinstance(decoder_queue, _LoggingDecoderQueue):
        raise RuntimeError("call log_decoding before assemble_frames_at_once")
    setattr(receiver, attribute, _AssemblerAsJitterBuffer(
        receiver, assembler, on_keyframe_request, now_ms, decoder_queue))


def bound_nacks(receiver: RTCRtpReceiver) -> None:
    """Give the video receiver a NACK generator whose cost does not grow with a sequence
    number's jump (see peer.nack_generator); a receiver sending no NACK is left alone."""
    if not hasattr(receiver, _NACK_GENERATOR):
        raise RuntimeError("aiortc's RTCRtpReceiver changed: update peer/aiortc_glue.py")
    if getattr(receiver, _NACK_GENERATOR) is not None:
        setattr(receiver, _NACK_GENERATOR, BoundedNackGenerator())


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


def _negotiate_transport_cc() -> None:
    """Offer and accept the transport-wide sequence number extension and transport-cc
    feedback for video and audio (one counter for both: they share the path). aiortc parses
    the extension but leaves it out of its SDP; its offers and answers are built from the
    module tables aiortc.codecs.HEADER_EXTENSIONS and CODECS, the same for every connection
    of the process (idempotent)."""
    for kind in ("video", "audio"):
        _offer_extension(kind, TRANSPORT_CC_EXTENSION_ID, TRANSPORT_CC_URI)
        for codec in aiortc.codecs.CODECS[kind]:
            if codec.mimeType != "video/rtx" and not any(
                    f.type == "transport-cc" for f in codec.rtcpFeedback):
                codec.rtcpFeedback.append(RTCRtcpFeedback(type="transport-cc"))


def _negotiate_playout_delay() -> None:
    """Offer and accept the playout-delay extension for video, as Chromium does; packets
    carry it only when the call asks (send_playout_delay). Same tables as transport-cc."""
    _offer_extension("video", PLAYOUT_DELAY_EXTENSION_ID, PLAYOUT_DELAY_URI)


def _offer_extension(kind: str, extension_id: int, uri: str) -> None:
    """Put `uri` into aiortc's header-extension table for `kind` (once)."""
    extensions = aiortc.codecs.HEADER_EXTENSIONS[kind]
    if not any(e.uri == uri for e in extensions):
        extensions.append(RTCRtpHeaderExtensionParameters(extension_id, uri))


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
        # SSRC -> a header extension element aiortc cannot write, added to each packet
        self._elements: dict[int, tuple[int, bytes]] = {}

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
        data = packet.serialize(self._transport._rtp_header_extensions_map)
        element = self._elements.get(packet.ssrc)
        return data if element is None else add_header_extension(data, *element)

    def write_extension(self, ssrcs: list[int], extension_id: int | None,
                        data: bytes) -> None:
        """Put the element `extension_id` -> `data` into every packet of these SSRCs from
        now on; None stops it."""
        for ssrc in ssrcs:
            if extension_id is None:
                self._elements.pop(ssrc, None)
            else:
                self._elements[ssrc] = (extension_id, data)


def hook_transport(transceiver: RTCRtpTransceiver, hooks: TransportHooks,
                   guard: ReceiveGuardStats, now_ms: Callable[[], float]) -> TransportAccess:
    """Route one transceiver's RTP through `hooks`: outgoing RTP (media and RTX) goes to
    hooks.on_outgoing_rtp instead of straight to SRTP; incoming RTP is reported with its
    transport seq no; incoming RTCP is shown to the hooks before aiortc handles it; NACKs are
    filtered; a packet that makes aiortc's handling raise is dropped and counted in `guard`,
    since the exception would end the transport, and so is a datagram too long for SRTP (see
    SrtpRejections). Times are the call's clock's (`now_ms`). Relies on
    RTCDtlsTransport._send_rtp / _handle_rtcp_data / _handle_rtp_data and on
    RTCRtpReceiver._handle_rtp_packet / RTCRtpSender._handle_rtcp_packet."""
    transport: RTCDtlsTransport = transceiver.sender.transport
    original_send = transport._send_rtp
    original_rtcp = transport._handle_rtcp_data
    original_rtp_data = transport._handle_rtp_data
    receiver, sender = transceiver.receiver, transceiver.sender
    original_sender_rtcp = sender._handle_rtcp_packet

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
            guard.malformed_rtcp += 1  # exception would end the transport's loop

    async def handle_rtp_data(data: bytes, arrival_time_ms: int) -> None:
        try:
            await original_rtp_data(data, arrival_time_ms)
        except _MALFORMED_ERRORS:  # e.g. a transport-cc extension element of 1 byte
            guard.malformed_rtp += 1

    _record_rtp_in(receiver, hooks, guard, now_ms)

    async def handle_sender_rtcp(packet: Any) -> None:
        if isinstance(packet, RtcpRtpfbPacket) and packet.fmt == RTCP_RTPFB_NACK:
            packet.lost = hooks.retransmittable(packet.lost, now_ms())
        await original_sender_rtcp(packet)

    transport._send_rtp = send_rtp  # type: ignore[method-assign]
    transport._handle_rtcp_data = handle_rtcp_data  # type: ignore[method-assign]
    transport._handle_rtp_data = handle_rtp_data  # type: ignore[method-assign]
    _guard_srtp_when_connected(transport)
    sender._handle_rtcp_packet = handle_sender_rtcp  # type: ignore[method-assign]
    return TransportAccess(transport, original_send)


def send_playout_delay(pc: RTCPeerConnection, transceiver: RTCRtpTransceiver,
                       access: TransportAccess, config: PlayoutDelayConfig) -> None:
    """Write `config`'s playout delay into every packet the transceiver's sender sends
    (media and RTX, through `access`, so the transceiver must be hooked) whenever a
    negotiation of `pc` ends with both descriptions naming the extension (and with the id
    they give it); never when it is disabled. aiortc sets the descriptions in
    RTCPeerConnection.setLocalDescription / setRemoteDescription (it emits
    "signalingstatechange" before it stores them, so the event comes too early), and keeps
    the RTX SSRC in RTCRtpSender._rtx_ssrc."""
    if not config.enabled:
        return
    sender = transceiver.sender
    ssrcs = [sender._ssrc, sender._rtx_ssrc]
    data = config.element_data()

    def negotiated() -> None:
        local, remote = pc.localDescription, pc.remoteDescription
        if pc.signalingState != "stable" or local is None or remote is None:
            return
        offer, answer = (local, remote) if local.type == "offer" else (remote, local)
        access.write_extension(ssrcs, negotiated_extension_id(offer.sdp, answer.sdp), data)

    for name in ("setLocalDescription", "setRemoteDescription"):
        original = getattr(pc, name)

        async def set_description(*args: Any,
                                  original: Callable[..., Awaitable[None]] = original) -> None:
            await original(*args)  # setLocalDescription() with no argument is aiortc's too
            negotiated()

        setattr(pc, name, set_description)


def hook_audio_receiver(transceiver: RTCRtpTransceiver, hooks: TransportHooks,
                        guard: ReceiveGuardStats, now_ms: Callable[[], float]) -> None:
    """Report the audio receiver's incoming RTP (its transport seq no) to `hooks`, as
    hook_transport does for video: audio shares the transport-wide numbers, and a number
    missing from our feedback would read as a lost packet. The audio transceiver must share
    the video one's transport (bundlePolicy max-bundle), whose sending hook_transport already
    routes. SSRCs are bounded as there. Relies on RTCRtpReceiver._handle_rtp_packet."""
    _record_rtp_in(transceiver.receiver, hooks, guard, now_ms)


def _record_rtp_in(receiver: RTCRtpReceiver, hooks: TransportHooks, guard: ReceiveGuardStats,
                   now_ms: Callable[[], float]) -> None:
    """Hook `receiver`'s RTP handler to tell `hooks` first each packet's transport seq no, from
    at most MAX_REMOTE_SSRCS sources: aiortc keeps statistics per SSRC and reports them all in
    one RR; past about 60 the RR is too long for SRTCP to protect, the ValueError ends the
    receiver's RTCP task, and closing the call then waits for that task forever."""
    original_rtp_in = receiver._handle_rtp_packet
    remote_ssrcs: set[int] = set()

    async def handle_rtp_packet(packet: RtpPacket, arrival_time_ms: int) -> None:
        if packet.ssrc not in remote_ssrcs:
            if len(remote_ssrcs) >= MAX_REMOTE_SSRCS:
                guard.unknown_ssrc += 1
                return
            remote_ssrcs.add(packet.ssrc)
        hooks.on_incoming_rtp(packet.extensions.transport_sequence_number, packet.ssrc,
                              now_ms())
        await original_rtp_in(packet, arrival_time_ms)

    receiver._handle_rtp_packet = handle_rtp_packet  # type: ignore[method-assign]


class _AudioAtOnce:
    """In place of aiortc's audio jitter buffer (JitterBuffer(capacity=16, prefetch=4)), which
    holds every packet until four more have come (80 ms) and a lost one until 16 have (320 ms).
    An Opus packet is a whole frame: decode it the moment it comes, unless it is older than
    one already decoded (late: its moment has passed). Same interface: add(packet) ->
    (pli, frame)."""

    def __init__(self) -> None:
        self._newest: int | None = None  # sequence number of the newest packet passed on

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        seq = packet.sequence_number
        if (self._newest is not None and (seq - self._newest) % 0x10000 >= 0x8000) or (
                seq == self._newest):
            return False, None
        self._newest = seq
        return False, JitterFrame(getattr(packet, "_data", packet.payload), packet.timestamp)


def play_audio_at_once(receiver: RTCRtpReceiver) -> None:
    """Give an audio receiver no playout buffer (see _AudioAtOnce). Relies on the private
    attribute RTCRtpReceiver.__init__ sets, and on the depayloaded `_data` it puts on each
    packet before adding it."""
    attribute = "_RTCRtpReceiver__jitter_buffer"
    if getattr(receiver, "_RTCRtpReceiver__kind", None) != "audio" or not hasattr(
            receiver, attribute):
        raise RuntimeError("aiortc's RTCRtpReceiver changed: update peer/aiortc_glue.py")
    setattr(receiver, attribute, _AudioAtOnce())


async def set_remote_description(pc: RTCPeerConnection,
                                 description: RTCSessionDescription) -> None:
    """pc.setRemoteDescription for a connection whose transceivers share one transport from
    the start (bundlePolicy max-bundle). aiortc takes the first m-line of the remote BUNDLE
    group as the transport's owner and, when a browser offers its audio first: moves our video
    transceiver onto "the owner's" transport (the same one) and stops the transport it leaves
    (the same one: the call never connects); and ignores the browser's candidates, which are
    for the owner's mid, if our transceiver there is flagged bundled. So no transceiver is
    flagged movable while aiortc looks, and afterwards the group's first is the owner.
    A transceiver the offer has no m-line for (our audio, to a page sending video only) is
    made inactive: aiortc's setLocalDescription(answer) fails on it otherwise. Relies on
    RTCRtpTransceiver._bundled (read in setRemoteDescription and addIceCandidate) and
    _offerDirection (read in setLocalDescription)."""
    transceivers = pc.getTransceivers()
    shared = len({t.receiver.transport for t in transceivers}) == 1
    if shared:
        for transceiver in transceivers:
            transceiver._bundled = True
    await pc.setRemoteDescription(description)
    transceivers = pc.getTransceivers()
    if description.type == "offer":
        for transceiver in transceivers:
            if transceiver.mid is None:  # the offer has no m-line for it (a page sending
                # video only): aiortc's answer would fail on its missing offer direction
                transceiver._offerDirection = "inactive"
    if not shared:
        return
    group = next((g for g in aiortc.sdp.SessionDescription.parse(description.sdp).group
                  if g.semantic == "BUNDLE" and g.items), None)
    owner = group.items[0] if group is not None else transceivers[0].mid
    if not any(t.mid == owner for t in transceivers):
        owner = transceivers[0].mid
    for transceiver in transceivers:
        transceiver._bundled = transceiver.mid != owner


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


# What aiortc's and aioice's parsers raise on malformed input besides their ValueError.
_MALFORMED_ERRORS = (struct.error, ValueError, IndexError, KeyError, TypeError)
# Each ICE connection of ours -> the stats of its call (see guard_ice_receive).
_ice_guards: weakref.WeakKeyDictionary[aioice.Connection, ReceiveGuardStats] = (
    weakref.WeakKeyDictionary())
_aioice_datagram_received = aioice.ice.StunProtocol.datagram_received


def _guarded_datagram_received(self: Any, data: bytes | str, addr: tuple[Any, ...]) -> None:
    """Drop two kinds of datagram a stranger can send to a call's UDP port:
    - an empty one: aioice passes it on as data, and RTCDtlsTransport._recv_next reads
      `data[0]`, so the IndexError ends the transport's receive loop and the call is dead;
    - a STUN message with a malformed attribute: aioice's parse_message raises struct.error
      (it only expects ValueError), which escapes StunProtocol.datagram_received.
    Counted in the stats of the call the protocol's connection (`self.receiver`) is of."""
    guard = _ice_guards.get(self.receiver)
    if not data:
        if guard is not None:
            guard.empty += 1
        return
    try:
        _aioice_datagram_received(self, data, addr)
    except _MALFORMED_ERRORS:
        if guard is not None:
            guard.malformed_stun += 1


def guard_ice_receive(transceiver: RTCRtpTransceiver, guard: ReceiveGuardStats) -> None:
    """Count what the ICE guard (install_process_hooks) drops on this transceiver's
    connection in `guard`."""
    _ice_guards[ice_connection(transceiver)] = guard


OPUS_BIT_RATE_BPS = 32_000  # speech (libwebrtc's default for Opus); aiortc sets 96 kbit/s
# aiortc's 20 ms Opus frames stay: 10 ms ones (2026-12-03, 60 s, const-2mbps, ours -> the page,
# three calls each) took audio p95 from 144-215 to 236-352 ms, NetEq buffering 65-120 ms
# instead of 30-70 for twice the packets' send-time jitter.
_aiortc_get_encoder = aiortc.rtcrtpsender.get_encoder


def _get_encoder(codec: Any) -> Any:
    """aiortc's encoder for `codec`; Opus at OPUS_BIT_RATE_BPS. aiortc fixes 96 kbit/s in
    OpusEncoder.__init__, a tenth of a 1 Mbit/s link, and opens the codec at the first
    frame, so the rate can still be set here."""
    encoder = _aiortc_get_encoder(codec)
    if isinstance(encoder, aiortc.codecs.opus.OpusEncoder):
        encoder.codec.bit_rate = OPUS_BIT_RATE_BPS
    return encoder


def install_process_hooks() -> None:
    """The patches aiortc and aioice leave no per-connection way around, once per process:
    transport-cc and playout-delay in the SDP tables; host candidates chosen per connection
    (use_host_candidates); the ICE receive guard, on aioice.ice.StunProtocol.datagram_received
    (the one place aioice takes datagrams), on for every connection; Opus at
    OPUS_BIT_RATE_BPS (aiortc's senders get their encoder from
    aiortc.rtcrtpsender.get_encoder). Idempotent."""
    _negotiate_transport_cc()
    _negotiate_playout_delay()
    aioice.ice.get_host_addresses = _host_addresses
    aiortc.rtcrtpsender.get_encoder = _get_encoder
    aioice.ice.StunProtocol.datagram_received = (  # type: ignore[method-assign]
        _guarded_datagram_received)
