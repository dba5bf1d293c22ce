"""How much of the measured link rate `ours` plans on: a share tuned by what its frames met.

On a steady link the coupler may plan on the whole rate it measured: each frame finds the
small queue it intended. On a cellular link the rate of the last half second overstates the
next hundred milliseconds often enough that frames wait behind their predecessors or are
skipped, and Salsify's signal delay charges both (a skipped frame is seen late, as the next
one). The measured rate cannot say how variable the link is (a real call's short slices of
it are too noisy: see coupler.py), but the frames' fate can. So, AIMD on the delay a viewer
sees: every `period_ms` the share is cut (x `decrease`) when more than `late_fraction` of the
frames of the period were late, and raised (+ `increase`) otherwise, within [`min_share`, 1].

A frame is late when it was skipped while feedback flowed, or when its first packet waited
at the bottleneck (one-way delay above the base) more than `wait_ms` longer than the queue
model expected (coupler.py; the expectation includes two packets' time, as a link serves in
whole slots). Only the surprise counts: a frame's own size, a previous frame's overshoot and
the standing queue are all in the expectation, so a constant link keeps the whole rate
whatever its speed. A period with fewer than `min_frames` first packets heard of (an outage:
the coupler waits for feedback anyway) changes nothing.

Tuned in the simulator (60 s, 20 ms one way; `experiments sweep --sim --set headroom.X=...`):
p95 signal delay on `cellular` 113 -> 74 ms and Verizon-LTE-short 170 -> 113 ms (small
frames in short congestions on, coupler.py), const-1mbps and const-2mbps at 92 % and 91 % of
capacity either way; a 20 ms tolerance gives 87 and 121 ms, 5 ms 72 and 109 ms (10 leaves a
margin for a real call's arrival jitter). Real calls (60 s; `cellular` 30 s, three runs):
`cellular` 150-164 -> 88-94 ms (stock aiortc 84-118), Verizon-LTE-short 214-313 -> 118
(aiortc 118), const-1mbps at 86 % and const-2mbps at 83 % of capacity.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from ratecontrol.types import PacketResult

MAX_TRACKED_STARTS = 1000


@dataclass(frozen=True, slots=True)
class HeadroomConfig:
    period_ms: float = 1000.0  # one verdict per this long
    wait_ms: float = 10.0  # a first packet that waited this much longer than expected ...
    late_fraction: float = 0.02  # ... is late; more late frames than this in a period cut
    decrease: float = 0.85
    increase: float = 0.05  # per period without too many late frames
    min_share: float = 0.25
    min_frames: int = 5
    enabled: bool = True


class AdaptiveHeadroom:
    def __init__(self, config: HeadroomConfig | None = None) -> None:
        self.config = config or HeadroomConfig()
        self.share = 1.0
        self._starts: deque[tuple[int, float]] = deque()  # first packets: (seq, wait expected)
        self._period_end_ms: float | None = None
        self._frames = 0  # frames decided in this period ...
        self._skipped = 0  # ... skipped while feedback flowed
        self._heard = 0  # first packets acknowledged in this period ...
        self._waited = 0  # ... that waited longer than wait_ms

    def on_frame_start(self, transport_seq: int, expected_wait_ms: float) -> None:
        self._starts.append((transport_seq, expected_wait_ms))
        if len(self._starts) > MAX_TRACKED_STARTS:  # their feedback never came
            self._starts.popleft()

    def on_decision(self, sent: bool, feedback_flowing: bool, now_ms: float) -> None:
        self._turn(now_ms)
        self._frames += 1
        if not sent and feedback_flowing:
            self._skipped += 1

    def on_feedback(self, results: list[PacketResult], base_delay_ms: float | None,
                    now_ms: float) -> None:
        self._turn(now_ms)
        if base_delay_ms is None or not self._starts:
            return
        for r in sorted(results, key=lambda r: r.transport_seq):
            while self._starts and self._starts[0][0] < r.transport_seq:
                self._starts.popleft()  # lost, or reported out of order: no verdict
            if not self._starts or self._starts[0][0] != r.transport_seq:
                continue
            expected_ms = self._starts.popleft()[1]
            if r.arrived_ms is None or not math.isfinite(r.sent_ms):
                continue
            self._heard += 1
            waited_ms = r.arrived_ms - r.sent_ms - base_delay_ms
            if waited_ms - expected_ms > self.config.wait_ms:
                self._waited += 1

    def _turn(self, now_ms: float) -> None:
        cfg = self.config
        if self._period_end_ms is None:
            self._period_end_ms = now_ms + cfg.period_ms
        if now_ms < self._period_end_ms:
            return
        if cfg.enabled and self._heard >= cfg.min_frames and self._frames > 0:
            late = (self._skipped + self._waited) / max(self._frames, self._heard)
            if late > cfg.late_fraction:
                self.share = max(cfg.min_share, self.share * cfg.decrease)
            else:
                self.share = min(1.0, self.share + cfg.increase)
        self._frames = self._skipped = self._heard = self._waited = 0
        self._period_end_ms = max(self._period_end_ms + cfg.period_ms, now_ms)
