"""What Chromium's jitter buffer did to the video a page receives, from the page's getStats.

`read_jitter_buffer(page)` takes one sample of the cumulative counters of the page's video
`inbound-rtp` (webrtc-stats: jitterBufferDelay, jitterBufferTargetDelay and
jitterBufferMinimumDelay are sums in seconds over jitterBufferEmittedCount frames);
`per_frame(before, after)` turns two samples into milliseconds per frame over the window
between them, so the call's start-up does not count. The page is the demo page (its
`window.callControl.peerConnection()`), driven by Playwright.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

# One sample of the first video inbound-rtp of the page's connection (null: none yet).
JITTER_BUFFER_JS = """async () => {
  const pc = window.callControl && window.callControl.peerConnection();
  if (!pc) return null;
  let sample = null;
  (await pc.getStats()).forEach((r) => {
    if (sample === null && r.type === "inbound-rtp" && r.kind === "video") {
      sample = {
        at_ms: performance.now(),
        delay_s: r.jitterBufferDelay || 0,
        target_s: r.jitterBufferTargetDelay || 0,
        minimum_s: r.jitterBufferMinimumDelay || 0,
        emitted: r.jitterBufferEmittedCount || 0,
        frames_decoded: r.framesDecoded || 0,
      };
    }
  });
  return sample;
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
    sample = page.evaluate(JITTER_BUFFER_JS)
    if sample is None:
        raise ValueError("the page has no video inbound-rtp yet: sample once it decodes")
    return JitterBufferSample(**sample)


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
