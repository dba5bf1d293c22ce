"""The receiving side of a call: show each decoded frame at once, and measure it.

The display path is short: take the newest decoded frame (older ones are dropped, never
queued), read its stamp, hand it to the sink, log it. Quality (SSIM/PSNR against the source
frame regenerated from the stamp: the test pattern, or the clip the sender announced, frame
`id mod its length`) runs on a worker thread, off that path; when the worker is
still busy with an earlier frame, the frame is logged without quality rather than delayed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import functools
import logging
from collections.abc import Callable
from typing import Protocol

import av
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from peer import quality
from peer.aiortc_glue import DecodeLog, newest_frame
from peer.file_source import SourceError
from peer.frame_assembler import AssemblerStats, FrameAssembler
from peer.metrics import MetricsLog, ShownFrame
from peer.source import SourceClock
from peer.sources import stamped_content
from peer.stamp import read_stamp

log = logging.getLogger("peer.receiver")


class Sink(Protocol):
    def show(self, frame: av.VideoFrame) -> None: ...

    def close(self) -> None: ...


class FrameReceiver:
    def __init__(self, sink: Sink, metrics: MetricsLog, decode_log: DecodeLog, *,
                 wall_clock: Callable[[], float], measure_quality: bool = True) -> None:
        self.sink = sink
        self._wall_clock = wall_clock  # the call's clock (peer.clock), mapped to wall time
        self.metrics = metrics
        self.decode_log = decode_log
        self._remote_clock: SourceClock | None = None
        self.frames: list[ShownFrame] = []
        self.assembler_stats = AssemblerStats()  # over every stream of the call
        self.assembler = self.new_assembler()
        self.dropped = 0  # decoded but superseded by a newer frame before it could be shown
        self.unstamped = 0
        self._measure_quality = measure_quality
        self._quality_pool = concurrent.futures.ThreadPoolExecutor(1, "quality")
        self._quality_busy = False
        self._quality_off = False  # the sender's content cannot be rendered here: no SSIM
        self._pending: set[asyncio.Future[ShownFrame]] = set()

    @property
    def remote_clock(self) -> SourceClock | None:
        """What the other side announced it sends (None: nothing we can score)."""
        return self._remote_clock

    @remote_clock.setter
    def remote_clock(self, clock: SourceClock | None) -> None:
        if clock is not None and clock != self._remote_clock and self._measure_quality:
            # Render the sender's content now (a clip is decoded: about a second on a loaded
            # machine), while ICE and DTLS set up, not when the first frames want scoring.
            with contextlib.suppress(RuntimeError):  # the call has already finished
                self._quality_pool.submit(self._warm_content, clock)
        self._remote_clock = clock

    @staticmethod
    def _warm_content(clock: SourceClock) -> None:
        with contextlib.suppress(SourceError):  # the first frame's measurement says it
            stamped_content(clock.kind, clock.width, clock.height)

    def new_assembler(self) -> FrameAssembler:
        """A frame assembler for a new incoming stream (a call's first, or after a restart)."""
        self.assembler = FrameAssembler(stats=self.assembler_stats)
        return self.assembler

    def on_keyframe_request(self) -> None:
        self.metrics.write({"type": "event", "event": "pli", "at": self._wall_clock()})

    async def consume(self, track: MediaStreamTrack) -> None:
        """Show frames from `track` until it ends."""
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            assert isinstance(frame, av.VideoFrame)
            frame, dropped = newest_frame(track, frame)
            self.dropped += dropped
            assert isinstance(frame, av.VideoFrame)
            self._show(frame)

    def _show(self, frame: av.VideoFrame) -> None:
        self.sink.show(frame)
        shown_at = self._wall_clock()
        luma = quality.luma_plane(frame)
        try:
            frame_id = read_stamp(luma)
        except ValueError:
            frame_id = None
        if frame_id is None:
            self.unstamped += 1
        clock = self.remote_clock
        record = ShownFrame(
            frame_id=frame_id,
            captured_at=(clock.captured_at(frame_id, shown_at)
                         if clock and frame_id is not None else None),
            shown_at=shown_at,
            bytes=self.decode_log.size_of(frame.pts),
            keyframe=self.decode_log.is_keyframe(frame.pts),
        )
        if (self._measure_quality and clock and frame_id is not None and not self._quality_busy
                and not self._quality_off):
            self._quality_busy = True
            future = asyncio.get_running_loop().run_in_executor(
                self._quality_pool, self._with_quality, record, luma, clock)
            self._pending.add(future)
            future.add_done_callback(functools.partial(self._quality_done, record))
        else:
            self._log(record)

    def _with_quality(self, record: ShownFrame, luma: np.ndarray,
                      clock: SourceClock) -> ShownFrame:
        """On the worker thread: the first call may decode the sender's clip (a fraction of a
        second, once per process)."""
        assert record.frame_id is not None
        try:
            content = stamped_content(clock.kind, clock.width, clock.height)
        except SourceError as exc:
            self._quality_off = True
            log.warning("no SSIM/PSNR in this call: %s", exc)
            return record
        source = content.luma(record.frame_id)
        return dataclasses.replace(record, ssim_db=quality.ssim_db(luma, source),
                                   psnr_db=quality.psnr_db(luma, source))

    def _quality_done(self, record: ShownFrame, future: asyncio.Future[ShownFrame]) -> None:
        self._quality_busy = False
        self._quality_off = False  # the sender's content cannot be rendered here: no SSIM
        self._pending.discard(future)
        if not future.cancelled() and future.exception() is None:
            record = future.result()
        elif not future.cancelled():
            log.warning("quality measurement failed: %s", future.exception())
        self._log(record)

    def _log(self, record: ShownFrame) -> None:
        self.frames.append(record)
        self.metrics.write(record.to_json())

    async def finish(self) -> None:
        """Wait for quality measurements in flight, so no shown frame goes unlogged."""
        if self._pending:
            await asyncio.wait(self._pending, timeout=2.0)
        self._quality_pool.shutdown(wait=False, cancel_futures=True)
        self.sink.close()
