"""The rate-controlled sender: each captured frame is sized by the controller, then encoded
by our libvpx encoder (rate changed in place, no keyframe on a rate change), or skipped.

aiortc's RTCRtpSender accepts encoded `av.Packet`s from a track and only packetizes them, so
the controller, not aiortc's REMB handling, decides every frame's size.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass

import av
from aiortc import MediaStreamTrack

from peer.source import FrameSource
from peer.vp8_encoder import Vp8Encoder, Vp8EncoderConfig, to_av_packet
from ratecontrol.types import RateController

log = logging.getLogger("peer.encoded_track")


@dataclass
class SenderStats:
    frames_encoded: int = 0
    frames_skipped: int = 0
    keyframes: int = 0
    bytes_encoded: int = 0


class ControlledVideoTrack(MediaStreamTrack):
    kind = "video"

    def __init__(self, source: FrameSource, controller: RateController,
                 keyframe_requested: Callable[[], bool]) -> None:
        super().__init__()
        self.source = source
        self.controller = controller
        self._keyframe_requested = keyframe_requested
        self.encoder = Vp8Encoder(Vp8EncoderConfig(width=source.width, height=source.height,
                                                   fps=source.fps,
                                                   target_bps=int(controller.target_bps())))
        self.stats = SenderStats()
        self._frame_interval_ms = 1000.0 / source.fps

    async def recv(self) -> av.Packet:
        loop = asyncio.get_running_loop()
        while True:
            captured = await self.source.capture()
            now_ms = loop.time() * 1000.0
            decision = self.controller.frame_decision(now_ms, self._frame_interval_ms)
            keyframe = (self.stats.frames_encoded == 0 or decision.force_keyframe
                        or self._keyframe_requested())
            if not decision.send and not keyframe:
                self.stats.frames_skipped += 1
                continue
            target_bytes = decision.max_keyframe_bytes if keyframe else decision.target_bytes
            self.encoder.set_target_bps(int(self.controller.target_bps()))
            encode = functools.partial(self.encoder.encode, captured.image,
                                       now_s=captured.captured_at, keyframe=keyframe,
                                       target_bytes=target_bytes)
            encoded = await loop.run_in_executor(None, encode)
            if encoded is None:
                self.stats.frames_skipped += 1
                continue
            self.stats.frames_encoded += 1
            self.stats.keyframes += encoded.keyframe
            self.stats.bytes_encoded += encoded.size_bytes
            self.controller.on_frame_encoded(encoded.size_bytes, encoded.keyframe,
                                             loop.time() * 1000.0)
            packet = to_av_packet(encoded)
            packet.pts = captured.pts  # RTP timestamp follows the capture clock
            return packet
