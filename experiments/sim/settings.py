"""A simulated call as a user states it, and the one function that turns it into a SimConfig.

`experiments sim`, each run of a simulator sweep and each simulation of `experiments calibrate`
say what to simulate by names and numbers (a controller's name, a source's name, seconds);
`sim_config` resolves them against the traces, so all three build their SimConfig one way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from experiments.duration import trace_length_s
from experiments.sim.call import QUEUE_PACKETS, SimConfig, SimResult, simulate
from experiments.sim.content import content_profile
from netem.trace import Trace
from ratecontrol.types import RateController


@dataclass(frozen=True, slots=True)
class SimSettings:
    """The settings of one simulated call. Defaults are SimConfig's: ours, 30 s, 30 ms one
    way, no loss, netem's unlimited queue, seed 0, the test pattern, from the trace's start."""

    controller: str = "ours"
    duration_s: float | None = 30.0  # None: the whole media trace (--duration full)
    delay_ms: float = 30.0
    loss: float = 0.0
    queue_packets: int | None = QUEUE_PACKETS
    seed: int = 0
    source: str = "testpattern"  # a content profile (experiments/sim/content.py)
    trace_offset_ms: float = 0.0


def sim_config(settings: SimSettings, media: Trace, feedback: Trace) -> SimConfig:
    """The SimConfig of `settings` over these traces; ValueError (one line) for a source
    without a content profile or a setting SimConfig refuses."""
    content = content_profile(settings.source)
    duration_s = trace_length_s(media) if settings.duration_s is None else settings.duration_s
    return SimConfig(
        media_trace=media,
        feedback_trace=feedback,
        controller=settings.controller,
        duration_s=duration_s,
        delay_ms=settings.delay_ms,
        loss=settings.loss,
        queue_packets=settings.queue_packets,
        seed=settings.seed,
        fps=content.fps,
        encoder=content.encoder,
        content=content,
        trace_offset_ms=settings.trace_offset_ms,
    )


def timed_simulate(config: SimConfig, controller: RateController) -> tuple[SimResult, float]:
    """Simulate one call; also the wall seconds it took (the `sim_wall_s` of its output)."""
    started = time.perf_counter()
    result = simulate(config, controller)
    return result, time.perf_counter() - started
