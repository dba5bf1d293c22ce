"""A tiny closed loop for controller tests: 30 fps frames, a constant-rate drop-tail bottleneck,
fixed propagation delay, transport-cc-like feedback every 50 ms. Not the project simulator
(experiments/sim.py); just enough to check a controller's direction and bounds quickly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ratecontrol.types import PacketResult, RateController, SentPacket

PACKET_BYTES = 1200
FEEDBACK_INTERVAL_MS = 50.0


@dataclass
class LoopResult:
    targets: list[tuple[float, float]] = field(default_factory=list)  # (t, bps)
    frame_delays_ms: list[float] = field(default_factory=list)  # last packet arrival - send
    bytes_delivered: int = 0
    frames_skipped: int = 0


def run_loop(
    controller: RateController,
    capacity_bps: Callable[[float], float] | float,
    duration_ms: float,
    one_way_ms: float = 30.0,
    queue_bytes: int = 200 * PACKET_BYTES,
    loss_every: int = 0,
    feedback_blackout: tuple[float, float] | None = None,
) -> LoopResult:
    cap = capacity_bps if callable(capacity_bps) else (lambda _t, c=capacity_bps: c)
    out = LoopResult()
    seq = 0
    link_free_ms = 0.0
    queue: list[tuple[float, int]] = []  # (departure time, bytes) of packets at the bottleneck
    pending: list[PacketResult] = []
    inbox: list[tuple[float, list[PacketResult]]] = []
    next_feedback = FEEDBACK_INTERVAL_MS
    t = 0.0
    frame_ms = 1000.0 / 30.0
    while t < duration_ms:
        controller.on_timer(t)
        decision = controller.frame_decision(t, frame_ms)
        if not decision.send:
            out.frames_skipped += 1
        else:
            size = decision.target_bytes
            controller.on_frame_encoded(size, False, t)
            last_arrival = None
            while size > 0:
                n = min(PACKET_BYTES, size)
                size -= n
                seq += 1
                controller.on_packet_sent(SentPacket(seq, n, t))
                queue = [q for q in queue if q[0] > t]
                arrived: float | None
                if sum(q[1] for q in queue) + n > queue_bytes or (
                    loss_every and seq % loss_every == 0
                ):
                    arrived = None
                else:
                    link_free_ms = max(link_free_ms, t) + n * 8000.0 / cap(t)
                    queue.append((link_free_ms, n))
                    arrived = 1e6 + link_free_ms + one_way_ms
                    last_arrival = arrived
                pending.append(PacketResult(seq, n, t, arrived))
            if last_arrival is not None:
                out.frame_delays_ms.append(last_arrival - 1e6 - t)
        t += frame_ms
        while next_feedback <= t:
            ready = [
                p for p in pending if p.arrived_ms is None or p.arrived_ms - 1e6 <= next_feedback
            ]
            pending = [p for p in pending if p not in ready]
            fb_time = next_feedback + one_way_ms
            next_feedback += FEEDBACK_INTERVAL_MS
            blocked = feedback_blackout and feedback_blackout[0] <= fb_time < feedback_blackout[1]
            if ready and not blocked:
                inbox.append((fb_time, ready))
        while inbox and inbox[0][0] <= t:
            fb_time, ready = inbox.pop(0)
            out.bytes_delivered += sum(p.size_bytes for p in ready if not p.lost)
            controller.on_feedback(ready, fb_time)
        out.targets.append((t, controller.target_bps()))
    return out
