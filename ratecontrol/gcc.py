"""The `gcc` controller: send-side Google Congestion Control, as Chrome's libwebrtc runs it.

target = min(delay-based, loss-based), clamped to `RateBounds`:

* delay-based: `delay_based.py` (inter-arrival -> trendline -> detector -> AIMD, with the
  probe ramp at start and after a large drop), fed with the acknowledged rate;
* loss-based: `loss_based.py` (the classic 2 % / 10 % rule), held at or below the delay-based
  estimate as libwebrtc does; the probe ramp lifts it too while loss stays under
  `RAMP_MAX_LOSS` (1 %) and stops at more - probing is for a clean path;
* RTT: now - send time of the newest packet a feedback acknowledges (libwebrtc's feedback
  RTT), averaged; it paces the AIMD decrease and the additive increase;
* pacing at `PACING_FACTOR = 2.5` x the target (libwebrtc's default pacing factor);
* each frame budget is target / frame rate, less a tenth of past overshoot (a keyframe);
  below a quarter of its share the frame is dropped (libwebrtc's FrameDropper, so overshoot
  cannot build a standing queue); keyframes are capped at
  `MAX_KEYFRAME_FRAMES = 9` frame budgets (libwebrtc's `MaxIntraTarget` for a 600 ms buffer at
  30 fps: 0.5 x 600 x 30 / 10 = 900 %);
* REMB is ignored: with transport-cc negotiated, a libwebrtc receiver sends none;
* feedback timeout (`on_timer`): when packets went out but no feedback came back for
  `FEEDBACK_TIMEOUT_MS`, the target is halved every further `FEEDBACK_TIMEOUT_MS`, down to the
  minimum (our stand-in for libwebrtc's congestion window: stop filling a path that went mute).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ratecontrol.acked_bitrate import AckedBitrateEstimator
from ratecontrol.aimd import AimdConfig
from ratecontrol.delay_based import DelayBasedBwe, DelayBasedConfig
from ratecontrol.loss_based import LossBasedConfig, LossBasedControl
from ratecontrol.overuse_detector import BandwidthUsage
from ratecontrol.probe import RECOVERY_TARGET_RATIO, ProbeConfig, ProbeState
from ratecontrol.types import FrameDecision, PacketResult, RateBounds, SentPacket

PACING_FACTOR = 2.5
MAX_KEYFRAME_FRAMES = 9.0
FEEDBACK_TIMEOUT_MS = 1000.0
TIMEOUT_DECREASE_FACTOR = 0.5
RTT_SMOOTHING = 0.9
DEFAULT_RTT_MS = 200.0
MAX_RTT_MS = 10_000.0
PAYBACK_FRAMES = 10.0  # an overshoot is paid back over about this many frames
MIN_FRAME_SHARE = 0.25  # a frame that would get less than this of its share is dropped
RAMP_MAX_LOSS = 0.01  # the probe ramp stops at this loss (half the loss-based increase limit)


@dataclass(frozen=True, slots=True)
class GccConfig:
    bounds: RateBounds = field(default_factory=RateBounds)
    pacing_factor: float = PACING_FACTOR
    probe_at_start: bool = True
    probe_after_drop: bool = True
    max_keyframe_frames: float = MAX_KEYFRAME_FRAMES
    feedback_timeout_ms: float = FEEDBACK_TIMEOUT_MS


class GccController:
    name = "gcc"

    def __init__(self, config: GccConfig | None = None) -> None:
        self.config = config = config or GccConfig()
        bounds = config.bounds
        self.delay_based = DelayBasedBwe(
            DelayBasedConfig(
                aimd=AimdConfig(bounds.start_bps, bounds.min_bps, bounds.max_bps),
                probe=ProbeConfig(probe_after_drop=config.probe_after_drop, max_bps=bounds.max_bps),
                probe_at_start=config.probe_at_start,
            )
        )
        self.loss_based = LossBasedControl(
            LossBasedConfig(bounds.start_bps, bounds.min_bps, bounds.max_bps)
        )
        self.acked = AckedBitrateEstimator()
        self.rtt_ms = DEFAULT_RTT_MS
        self._target_bps = bounds.clamp(bounds.start_bps)
        self._last_feedback_ms: float | None = None
        self._last_sent_ms: float | None = None
        self._last_timeout_cut_ms: float | None = None
        self._debt_bytes = 0.0  # encoded beyond the frames' nominal shares
        self._last_nominal = 0.0

    # -- RateController -------------------------------------------------------------------
    def on_packet_sent(self, packet: SentPacket) -> None:
        if math.isfinite(packet.sent_ms):
            self._last_sent_ms = packet.sent_ms

    def on_feedback(self, results: list[PacketResult], now_ms: float) -> None:
        results = [r for r in results if _is_sane(r)]
        if not results or not math.isfinite(now_ms):
            return
        self._last_feedback_ms = now_ms
        self._last_timeout_cut_ms = None
        received = [r for r in results if r.arrived_ms is not None]
        if received:
            sample = now_ms - max(r.sent_ms for r in received)
            if 0.0 <= sample <= MAX_RTT_MS:
                self.rtt_ms = RTT_SMOOTHING * self.rtt_ms + (1 - RTT_SMOOTHING) * sample
        self.acked.on_feedback(results, now_ms)
        acked_bps = self.acked.bitrate_bps(now_ms)
        delay_bps = self.delay_based.on_feedback(results, acked_bps, now_ms, self.rtt_ms)
        if self.delay_based.usage is BandwidthUsage.OVERUSING:
            self.loss_based.note_overuse(now_ms)
        self.loss_based.on_feedback(results, now_ms, self.rtt_ms)
        if self.delay_based.ramped:
            self.loss_based.follow(delay_bps)
        probe = self.delay_based.probe
        if self.loss_based.loss_fraction >= RAMP_MAX_LOSS and probe.state is ProbeState.RAMPING:
            probe.stop()  # a ramp goes on only on a clean path; a recovery still waiting stays
        self.loss_based.cap(delay_bps, now_ms)
        self._set_target(min(delay_bps, self.loss_based.bitrate_bps()))

    def on_remb(self, bitrate_bps: float, now_ms: float) -> None:
        return None

    def on_timer(self, now_ms: float) -> None:
        last_fb = self._last_feedback_ms
        sent = self._last_sent_ms
        if last_fb is None or sent is None or sent <= last_fb:
            return
        timeout_ms = self.config.feedback_timeout_ms
        since_ms = now_ms - (last_fb if self._last_timeout_cut_ms is None else
                             self._last_timeout_cut_ms)
        if now_ms - last_fb >= timeout_ms and since_ms >= timeout_ms:
            self._last_timeout_cut_ms = now_ms
            reduced = self._target_bps * TIMEOUT_DECREASE_FACTOR
            self.delay_based.aimd.set_estimate(reduced, now_ms)
            self.delay_based.probe.arm_recovery(RECOVERY_TARGET_RATIO * self._target_bps)
            self.loss_based.cap(reduced, now_ms)
            self._set_target(reduced)

    def restore_target(self, bps: float, now_ms: float) -> None:
        """Take back timeout cuts the feedback has shown were needless (see ours.py): the
        delay-based estimate and, while loss is low, the loss-based one return to `bps`."""
        if bps <= self._target_bps:
            return
        self.delay_based.aimd.set_estimate(bps, now_ms)
        self.loss_based.follow(bps)
        self._set_target(min(bps, self.loss_based.bitrate_bps()))

    def target_bps(self) -> float:
        return self._target_bps

    def state(self) -> dict[str, float | str | None]:
        """Which part sets the rate: the delay-based and loss-based estimates, the detector's
        verdict, the probe ramp's state and the loss the feedback showed."""
        return {
            "delay_kbps": round(self.delay_based.bitrate_bps() / 1000, 1),
            "loss_kbps": round(self.loss_based.bitrate_bps() / 1000, 1),
            "usage": self.delay_based.usage.name.lower(),
            "probe": self.delay_based.probe.state.value,
            "loss": round(self.loss_based.loss_fraction, 4),
        }

    def pacing_bps(self) -> float | None:
        return self.config.pacing_factor * self._target_bps

    def frame_decision(self, now_ms: float, frame_interval_ms: float) -> FrameDecision:
        """target / frame rate, less a tenth of past overshoot (a keyframe, say); a frame that
        would get less than `MIN_FRAME_SHARE` of its share is dropped, as libwebrtc's
        FrameDropper does, so that overshoot cannot build a standing queue."""
        interval_ms = frame_interval_ms if 0 < frame_interval_ms < 10_000 else 1000.0 / 30.0
        nominal = self._target_bps * interval_ms / 8000.0
        self._last_nominal = nominal
        budget = nominal - max(self._debt_bytes, 0.0) / PAYBACK_FRAMES
        if budget < MIN_FRAME_SHARE * nominal:
            self._debt_bytes = max(self._debt_bytes - nominal, 0.0)  # the drop pays its share
            return FrameDecision(send=False, target_bytes=0, max_keyframe_bytes=0)
        frame_bytes = max(1, int(budget))
        keyframe_cap = max(frame_bytes, int(self.config.max_keyframe_frames * nominal))
        return FrameDecision(send=True, target_bytes=frame_bytes, max_keyframe_bytes=keyframe_cap)

    def on_frame_encoded(self, size_bytes: int, keyframe: bool, now_ms: float) -> None:
        # Bytes above (or below) the frame's nominal share; a credit of at most one frame.
        nominal = self._last_nominal
        self._debt_bytes = max(self._debt_bytes + max(size_bytes, 0) - nominal, -nominal)

    # -- helpers --------------------------------------------------------------------------
    def acked_bps(self, now_ms: float) -> float | None:
        return self.acked.bitrate_bps(now_ms)

    def _set_target(self, bps: float) -> None:
        self._target_bps = self.config.bounds.clamp(bps, self._target_bps)


def _is_sane(result: PacketResult) -> bool:
    return result.times_finite and result.size_bytes >= 0
