"""The `fixed:BPS` controller: a constant target, for calibration and as a naive baseline.

Every frame gets rate / frame rate bytes, whatever the network says; keyframes may take up to
`MAX_KEYFRAME_FRAMES` frame budgets (as `gcc`); packets are paced at `PACING_FACTOR` x the rate
(so a fixed rate below capacity shows the path's own delay, not self-made bursts). The rate is
clamped to the configured `RateBounds`.
"""

from __future__ import annotations

from ratecontrol.types import FrameDecision, PacketResult, RateBounds, SentPacket

PACING_FACTOR = 2.5
MAX_KEYFRAME_FRAMES = 9.0


class FixedRateController:
    def __init__(self, bitrate_bps: float, bounds: RateBounds | None = None) -> None:
        self.bounds = bounds or RateBounds()
        self._bps = self.bounds.clamp(bitrate_bps)
        self.name = f"fixed:{int(self._bps)}"

    def on_packet_sent(self, packet: SentPacket) -> None:
        return None

    def on_feedback(self, results: list[PacketResult], now_ms: float) -> None:
        return None

    def on_remb(self, bitrate_bps: float, now_ms: float) -> None:
        return None

    def on_timer(self, now_ms: float) -> None:
        return None

    def target_bps(self) -> float:
        return self._bps

    def pacing_bps(self) -> float | None:
        return PACING_FACTOR * self._bps

    def frame_decision(self, now_ms: float, frame_interval_ms: float) -> FrameDecision:
        interval_ms = frame_interval_ms if 0 < frame_interval_ms < 10_000 else 1000.0 / 30.0
        frame_bytes = max(1, int(self._bps * interval_ms / 8000.0))
        return FrameDecision(
            send=True,
            target_bytes=frame_bytes,
            max_keyframe_bytes=int(MAX_KEYFRAME_FRAMES * frame_bytes),
        )

    def on_frame_encoded(self, size_bytes: int, keyframe: bool, now_ms: float) -> None:
        return None
