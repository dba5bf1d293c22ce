"""The emulated link of an experiment, and which trace carries media."""

from __future__ import annotations

from dataclasses import dataclass

from netem.traces import media_and_feedback, resolve_trace

DEFAULT_DELAY_MS = 20.0  # one way, each direction, as the issues' measurements use


@dataclass(frozen=True)
class LinkSpec:
    trace: str  # a name (pair or single) or a path
    delay_ms: float = DEFAULT_DELAY_MS  # one way, each direction
    loss: float = 0.0
    queue_packets: int | None = None
    seed: int = 0
    reorder: float = 0.0  # share of packets held back 10 ms, so later ones overtake them
    duplicate: float = 0.0  # share of packets delivered twice
    # (trace time s, packets): that many media packets lost in a row (netem --burst-loss up:...)
    burst_loss: tuple[tuple[float, int], ...] = ()


def trace_files(name: str) -> tuple[str, str]:
    """(media, feedback) trace names for netem, by netem.traces.media_and_feedback (a pair's
    .down carries media unless the name picks .up). Raises TraceError, listing the names that
    exist, when either cannot be resolved."""
    media, feedback = media_and_feedback(name)
    for trace in {media, feedback}:
        resolve_trace(trace)
    return media, feedback
