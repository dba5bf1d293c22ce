"""Every place we reach into aiortc or aioice internals, so an upgrade is one file's work.

Pinned to aiortc 1.16 / aioice 0.13 (requirements.txt). Each hook says what it relies on.
"""

from __future__ import annotations

import asyncio
import enum
import threading
import time
from collections import OrderedDict
from typing import Any

import aioice.ice
import aiortc.rtcrtpreceiver
from aiortc import MediaStreamTrack, RTCIceServer, RTCRtpReceiver, RTCRtpSender, RTCRtpTransceiver
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtp import RtpPacket
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
