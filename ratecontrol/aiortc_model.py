"""The `aiortc` controller: stock aiortc 1.16 as a model, for side-by-side comparison.

What aiortc does (read from its `rate.py`, `rtcrtpreceiver.py`, `rtcrtpsender.py`, `codecs/vpx.py`):

* the *receiver* estimates (`RembEstimator` here): abs-send-time inter-arrival groups of 5 ms,
  a Kalman filter for the queuing-delay offset (the estimator of draft-ietf-rmcat-gcc-01, not
  the trendline), the over-use detector (T = min(deltas, 60) x offset, same constants), AIMD with
  beta 0.85 of the incoming rate measured over 1 s; the AIMD starts only after 3 s of incoming
  rate (or at the first over-use); a REMB goes out when the estimate is updated: at most every
  `REMB_INTERVAL_MS = 500` ms, or at once while over-using;
* the *sender* (`AiortcController`) sets the encoder's target to the REMB value clamped to
  [250 kbit/s, 1.5 Mbit/s], starting at 500 kbit/s; no transport-cc, no loss-based control, no
  pacer (a frame's packets leave in one burst: `pacing_bps()` is None);
* its `Vp8Encoder` rebuilds the codec - a keyframe - whenever the target moved by more than
  10 % from the rate the codec was opened with (`force_keyframe` in the next `FrameDecision`);
  no keyframe size cap (`max_keyframe_bytes = 0`).

The receiver model runs on packets (send time as abs-send-time carries it, arrival time, size);
the simulator's receiver side feeds it, and in a real call aiortc's own receiver does the job.
"""

from __future__ import annotations

import math
from collections import deque

from ratecontrol.aimd import AimdConfig, AimdRateControl
from ratecontrol.inter_arrival import GroupDelta, InterArrival
from ratecontrol.overuse_detector import BandwidthUsage, OveruseDetector
from ratecontrol.types import FrameDecision, PacketResult, RateBounds, SentPacket

AIORTC_MIN_BPS = 250_000.0
AIORTC_MAX_BPS = 1_500_000.0
AIORTC_START_BPS = 500_000.0
REBUILD_CHANGE_RATIO = 0.10
REMB_INTERVAL_MS = 500.0
INIT_TIME_MS = 3000.0
RATE_WINDOW_MS = 1000.0
MIN_NUM_DELTAS = 60


class KalmanOffsetEstimator:
    """The draft-01 / aiortc Kalman filter: state (1/capacity, offset) from group deltas."""

    def __init__(self) -> None:
        self.e = [[100.0, 0.0], [0.0, 0.1]]
        self.slope = 1.0 / 64.0
        self.offset = 0.0
        self.previous_offset = 0.0
        self.num_deltas = 0
        self._avg_noise = 0.0
        self._var_noise = 50.0
        self._periods: deque[float] = deque(maxlen=60)

    def update(self, d: GroupDelta, usage: BandwidthUsage) -> None:
        self._periods.append(d.send_delta_ms)
        min_period = min(self._periods)
        self.num_deltas = min(self.num_deltas + 1, 1000)
        e = self.e
        e[0][0] += 1e-13
        e[1][1] += 1e-3
        if (usage is BandwidthUsage.OVERUSING and self.offset < self.previous_offset) or (
            usage is BandwidthUsage.UNDERUSING and self.offset > self.previous_offset
        ):
            e[1][1] += 10 * 1e-3
        h0 = float(d.size_delta_bytes)
        eh0 = e[0][0] * h0 + e[0][1]
        eh1 = e[1][0] * h0 + e[1][1]
        residual = (d.arrival_delta_ms - d.send_delta_ms) - self.slope * h0 - self.offset
        if usage is BandwidthUsage.NORMAL:
            bound = 3.0 * math.sqrt(self._var_noise)
            self._update_noise(min(max(residual, -bound), bound), min_period)
        denom = self._var_noise + h0 * eh0 + eh1
        k0, k1 = eh0 / denom, eh1 / denom
        e00, e01 = e[0][0], e[0][1]
        e[0][0] = e00 * (1 - k0 * h0) - e[1][0] * k0
        e[0][1] = e01 * (1 - k0 * h0) - e[1][1] * k0
        e[1][0] = -e00 * k1 * h0 + e[1][0] * (1 - k1)
        e[1][1] = -e01 * k1 * h0 + e[1][1] * (1 - k1)
        self.previous_offset = self.offset
        self.slope += k0 * residual
        self.offset += k1 * residual

    def _update_noise(self, residual: float, period_ms: float) -> None:
        alpha = 0.002 if self.num_deltas > 300 else 0.01
        beta = (1 - alpha) ** (period_ms * 30.0 / 1000.0)
        self._avg_noise = beta * self._avg_noise + (1 - beta) * residual
        self._var_noise = beta * self._var_noise + (1 - beta) * (self._avg_noise - residual) ** 2
        self._var_noise = max(self._var_noise, 1.0)


class RembEstimator:
    """aiortc's receiver: feed each media packet; returns a REMB value (bps) when one is due."""

    def __init__(self) -> None:
        self.inter_arrival = InterArrival()
        self.kalman = KalmanOffsetEstimator()
        self.detector = OveruseDetector()
        self.aimd: AimdRateControl | None = None
        self._arrivals: deque[tuple[float, int]] = deque()
        self._bytes_in_window = 0
        self._first_rate_ms: float | None = None
        self._last_remb_ms: float | None = None
        self._seq = 0

    def incoming_bps(self, now_ms: float) -> float | None:
        while self._arrivals and now_ms - self._arrivals[0][0] >= RATE_WINDOW_MS:
            self._bytes_in_window -= self._arrivals.popleft()[1]
        if not self._arrivals:
            return None
        span_ms = min(now_ms - self._arrivals[0][0] + 1.0, RATE_WINDOW_MS)
        return 8000.0 * self._bytes_in_window / span_ms if span_ms > 1.0 else None

    def on_packet(self, sent_ms: float, arrival_ms: float, size_bytes: int) -> float | None:
        if not (math.isfinite(sent_ms) and math.isfinite(arrival_ms)) or size_bytes < 0:
            return None
        self._arrivals.append((arrival_ms, size_bytes))
        self._bytes_in_window += size_bytes
        incoming = self.incoming_bps(arrival_ms)
        self._seq += 1
        delta = self.inter_arrival.add(PacketResult(self._seq, size_bytes, sent_ms, arrival_ms))
        if delta is not None:
            self.kalman.update(delta, self.detector.state)
            trend = min(self.kalman.num_deltas, MIN_NUM_DELTAS) * self.kalman.offset
            if self.kalman.num_deltas >= 2:
                self.detector.detect(trend, delta.send_delta_ms, arrival_ms)
        usage = self.detector.state
        if self.aimd is None and incoming is not None:
            if self._first_rate_ms is None:
                self._first_rate_ms = arrival_ms
            if arrival_ms - self._first_rate_ms > INIT_TIME_MS or usage is BandwidthUsage.OVERUSING:
                self.aimd = AimdRateControl(AimdConfig(incoming, 10_000.0, 30_000_000.0))
        if self.aimd is None:
            return None
        due = self._last_remb_ms is None or arrival_ms - self._last_remb_ms > REMB_INTERVAL_MS
        if not due and usage is not BandwidthUsage.OVERUSING:
            return None
        self._last_remb_ms = arrival_ms
        return self.aimd.update(usage, incoming, arrival_ms)


class AiortcController:
    name = "aiortc"

    def __init__(self, bounds: RateBounds | None = None) -> None:
        self.bounds = bounds or RateBounds()
        self._target_bps = AIORTC_START_BPS
        self._target_bps = self._clamp(AIORTC_START_BPS)
        self._codec_bps: float | None = None  # rate the modelled codec was opened with

    def _clamp(self, bps: float) -> float:
        bps = min(max(bps, AIORTC_MIN_BPS), AIORTC_MAX_BPS)
        return self.bounds.clamp(bps, self._target_bps)

    def on_packet_sent(self, packet: SentPacket) -> None:
        return None

    def on_feedback(self, results: list[PacketResult], now_ms: float) -> None:
        return None  # aiortc negotiates no transport-cc: it only hears REMB

    def on_remb(self, bitrate_bps: float, now_ms: float) -> None:
        if math.isfinite(bitrate_bps) and bitrate_bps > 0:
            self._target_bps = self._clamp(bitrate_bps)

    def on_timer(self, now_ms: float) -> None:
        return None

    def target_bps(self) -> float:
        return self._target_bps

    def pacing_bps(self) -> float | None:
        return None

    def frame_decision(self, now_ms: float, frame_interval_ms: float) -> FrameDecision:
        interval_ms = frame_interval_ms if 0 < frame_interval_ms < 10_000 else 1000.0 / 30.0
        rebuild = self._codec_bps is None or (
            abs(self._target_bps - self._codec_bps) / self._codec_bps > REBUILD_CHANGE_RATIO
        )
        if rebuild:
            self._codec_bps = self._target_bps
        frame_bytes = max(1, int(self._target_bps * interval_ms / 8000.0))
        return FrameDecision(
            send=True, target_bytes=frame_bytes, max_keyframe_bytes=0, force_keyframe=rebuild
        )

    def on_frame_encoded(self, size_bytes: int, keyframe: bool, now_ms: float) -> None:
        return None
