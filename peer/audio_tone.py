"""The marked tone as an aiortc audio track (aiortc's Opus encoder takes it from here).

Clocked like the video sources: sample s is captured at `t0 + s / SAMPLE_RATE` on the wall
clock, so marker n (peer.audio_marker) is captured at `t0 + n` s. The call passes the video
source's t0, which the receiver already has from the offer or answer: it then knows every
marker's capture time from the marker's code and the second it is heard in, with nothing new
on signaling. A 20 ms frame is handed over when its last sample is captured, as a microphone
does; when the process falls behind, the frames it missed come late, as from a microphone's
buffer, up to MAX_BACKLOG_FRAMES; older ones are skipped (a gap in the sound).
"""

from __future__ import annotations

import asyncio
import fractions
import math
import time
from collections.abc import Callable

import av
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from peer.audio_marker import tone_samples

SAMPLE_RATE = 48_000
FRAME_SAMPLES = 960  # 20 ms, Opus's usual frame
FULL_SCALE = 32767
# A microphone's driver buffers what the process has not read yet: frames up to this many
# behind are handed over late (their capture time stays), only older ones are skipped.
MAX_BACKLOG_FRAMES = 10


class PacedAudioTrack(MediaStreamTrack):
    """An audio track on a timeline from `t0` (wall clock): frame k is handed over when its
    last sample is captured, late frames as from a microphone's buffer (see `next_frame`).
    A subclass says what frame k holds. `wall_s`: the call's clock (peer.clock.Clock.wall_s),
    which the video sources keep too."""

    kind = "audio"

    def __init__(self, t0: float | None = None,
                 wall_s: Callable[[], float] = time.time) -> None:
        super().__init__()
        self._wall_s = wall_s
        self.t0 = wall_s() if t0 is None else t0
        self._next_frame: int | None = None  # None: the first frame is the one now due
        self.frames_sent = 0

    def frame(self, index: int) -> av.AudioFrame:
        raise NotImplementedError

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        now = self._wall_s()
        # The next frame, or the oldest one a microphone's buffer would still hold.
        index = next_frame(self._next_frame, now - self.t0)
        ready_at = self.t0 + (index + 1) * FRAME_SAMPLES / SAMPLE_RATE
        if ready_at > now:
            await asyncio.sleep(ready_at - now)
        self._next_frame = index + 1
        self.frames_sent += 1
        return self.frame(index)


class ToneTrack(PacedAudioTrack):
    def frame(self, index: int) -> av.AudioFrame:
        return tone_frame(index * FRAME_SAMPLES)


def next_frame(wanted: int | None, elapsed_s: float) -> int:
    """The frame to hand over `elapsed_s` into the timeline when frame `wanted` is next (None
    at the start: the frame being captured now)."""
    capturing = math.floor(elapsed_s * SAMPLE_RATE / FRAME_SAMPLES)
    if wanted is None:
        return max(capturing, 0)
    return max(wanted, capturing - MAX_BACKLOG_FRAMES)


def tone_frame(first_sample: int) -> av.AudioFrame:
    """One mono s16 frame of the tone from sample `first_sample` of its timeline."""
    pcm = np.round(tone_samples(first_sample, FRAME_SAMPLES, SAMPLE_RATE) * FULL_SCALE)
    return pcm_frame(pcm.astype(np.int16), first_sample)


def pcm_frame(pcm: np.ndarray, pts: int) -> av.AudioFrame:
    """A 48 kHz mono s16 frame of `pcm` at `pts` (samples)."""
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(pcm, dtype=np.int16)[None, :],
                                       format="s16", layout="mono")
    frame.sample_rate = SAMPLE_RATE
    frame.pts = pts
    frame.time_base = fractions.Fraction(1, SAMPLE_RATE)
    return frame
