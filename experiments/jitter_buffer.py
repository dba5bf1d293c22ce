"""What Chromium's jitter buffer did to the video a page receives, from the page's getStats.

`read_jitter_buffer(page)` takes one sample of the cumulative counters of the page's video
`inbound-rtp` (webrtc-stats: jitterBufferDelay, jitterBufferTargetDelay and
jitterBufferMinimumDelay are sums in seconds over jitterBufferEmittedCount frames);
`per_frame(before, after)` turns two samples into milliseconds per frame over the window
between them, so the call's start-up does not count. The page is the demo page (its
`window.callControl.sampleStats()`), driven by Playwright.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

# One sample, taken by the page's own getStats reader (app.js sampleStats, which the report's
# per-call figure reads too); null while it has no video inbound-rtp.
SAMPLE_JS = """async () => {
  if (!window.callControl || !window.callControl.peerConnection()) return null;
  await window.callControl.sampleStats();
  const s = window.callStats[window.callStats.length - 1];
  return s && s.jitterBufferEmittedCount != null ? s : null;
}"""


class Page(Protocol):
    """The one method of a Playwright page this needs."""

    def evaluate(self, expression: str) -> Any: ...


@dataclass(frozen=True)
class JitterBufferSample:
    at_ms: float  # the page's performance.now()
    delay_s: float  # cumulative jitterBufferDelay
    target_s: float  # cumulative jitterBufferTargetDelay
    minimum_s: float  # cumulative jitterBufferMinimumDelay
    emitted: int  # jitterBufferEmittedCount
    frames_decoded: int


@dataclass(frozen=True)
class JitterBufferFigures:
    """Means per frame over a window: how long a frame waited in the jitter buffer (delay),
    and how long the buffer aimed to hold it (target, minimum)."""

    window_s: float
    frames: int
    delay_ms: float
    target_ms: float
    minimum_ms: float

    def describe(self) -> str:
        return (f"jitter buffer {self.delay_ms:.1f} ms/frame (target {self.target_ms:.1f}, "
                f"minimum {self.minimum_ms:.1f}) over {self.frames} frames in "
                f"{self.window_s:.1f} s")


def read_jitter_buffer(page: Page) -> JitterBufferSample:
    """One sample from the demo page; ValueError when it receives no video yet."""
    stats = page.evaluate(SAMPLE_JS)
    if stats is None:
        raise ValueError("the page has no video inbound-rtp yet: sample once it decodes")
    return JitterBufferSample(
        at_ms=stats["t"], delay_s=stats["jitterBufferDelay"] or 0.0,
        target_s=stats["jitterBufferTargetDelay"] or 0.0,
        minimum_s=stats["jitterBufferMinimumDelay"] or 0.0,
        emitted=stats["jitterBufferEmittedCount"], frames_decoded=stats["framesDecoded"])


def per_frame(before: JitterBufferSample, after: JitterBufferSample) -> JitterBufferFigures:
    """Milliseconds per frame emitted between two samples of one call."""
    frames = after.emitted - before.emitted
    if frames <= 0:
        raise ValueError(f"no frame left the jitter buffer between the samples "
                         f"({before.emitted} then {after.emitted}): take them further apart")
    return JitterBufferFigures(
        window_s=(after.at_ms - before.at_ms) / 1000.0, frames=frames,
        delay_ms=1000.0 * (after.delay_s - before.delay_s) / frames,
        target_ms=1000.0 * (after.target_s - before.target_s) / frames,
        minimum_ms=1000.0 * (after.minimum_s - before.minimum_s) / frames)
