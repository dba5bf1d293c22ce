"""The JSON object one simulated call leaves: its summary, the controller and the settings.

`experiments sim` writes it and every run of a sweep writes the same keys, so one reader
serves both.
"""

from __future__ import annotations

from typing import Any

from experiments.sim.call import SimResult


def sim_output(result: SimResult, trace: str, wall_s: float) -> dict[str, Any]:
    """`trace` is the name the user gave (the config holds the resolved files)."""
    c = result.config
    return {
        **{k: round(v, 3) if isinstance(v, float) else v
           for k, v in result.summary.to_json().items()},
        "controller": c.controller,
        "settings": {
            "trace": trace,
            "media_trace": c.media_trace.name,
            "feedback_trace": c.feedback_trace.name,
            "duration_s": c.duration_s,
            "source": c.content.source,
            "delay_ms": c.delay_ms,
            "loss": c.loss,
            "queue_packets": c.queue_packets,
            "seed": c.seed,
            "trace_offset_ms": c.trace_offset_ms,
        },
        "sim_wall_s": round(wall_s, 3),
    }
