"""The emulated link of an experiment, and which trace carries media."""

from __future__ import annotations

from dataclasses import dataclass

from netem.traces import resolve_trace_pair


@dataclass(frozen=True)
class LinkSpec:
    trace: str  # a name (pair or single) or a path
    delay_ms: float = 20.0  # one way, each direction
    loss: float = 0.0
    queue_packets: int | None = None
    seed: int = 0
    reorder: float = 0.0  # share of packets held back 10 ms, so later ones overtake them
    duplicate: float = 0.0  # share of packets delivered twice
    # (trace time s, packets): that many media packets lost in a row (netem --burst-loss up:...)
    burst_loss: tuple[tuple[float, int], ...] = ()


def trace_files(name: str) -> tuple[str, str]:
    """(media, feedback) traces for netem. A pair like ATT-LTE-driving sends media over its
    .down file (network to phone, as the simulator does) and feedback over .up."""
    up, down = resolve_trace_pair(name)
    if up is down or up.name == down.name:
        return name, name
    base = name.removesuffix(".up").removesuffix(".down")
    return f"{base}.down", f"{base}.up"
