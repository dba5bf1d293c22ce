"""The delay-based estimator: inter-arrival -> trendline -> over-use detector -> AIMD (+ ramp).

The chain of libwebrtc's `DelayBasedBwe` (see each stage's module for its constants). Per
feedback report: received packets are taken in arrival order (ties by sequence number), each
closed 5 ms group feeds the trendline and the detector; then the AIMD controller is updated
with the detector's state and the acknowledged rate. While over-using, the rate is cut again
only once per RTT (libwebrtc's `TimeToReduceFurther`). The probe ramp (`probe.py`) may lift the
estimate while the detector says NORMAL.

Sound is left out of the delay signal while video flows (libwebrtc's field trial
WebRTC-Bwe-SeparateAudioPackets does the same): a 20 ms Opus packet between two frames lands
alone in a link's delivery slot (a cellular TTI; netem's 1500-byte opportunity), so its delay
swings by a slot against the video's and the trendline reads the swings as queue growth. With
no video result for `AUDIO_ONLY_AFTER_MS` (a paused or skipping sender) sound is all there is
and is used. Measured in real calls on const-2mbps with the tone on: see the closing note of
issue 14.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ratecontrol.aimd import AimdConfig, AimdRateControl
from ratecontrol.inter_arrival import InterArrival
from ratecontrol.overuse_detector import BandwidthUsage, OveruseDetector
from ratecontrol.probe import ProbeConfig, ProbeController
from ratecontrol.trendline import TrendlineEstimator
from ratecontrol.types import PacketResult

AUDIO_ONLY_AFTER_MS = 1000.0  # no video result this long: the delay signal takes sound too


@dataclass(frozen=True, slots=True)
class DelayBasedConfig:
    aimd: AimdConfig = field(default_factory=AimdConfig)
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    probe_at_start: bool = True


class DelayBasedBwe:
    def __init__(self, config: DelayBasedConfig | None = None) -> None:
        self.config = config or DelayBasedConfig()
        self.inter_arrival = InterArrival()
        self.trendline = TrendlineEstimator()
        self.detector = OveruseDetector()
        self.aimd = AimdRateControl(self.config.aimd)
        self.probe = ProbeController(self.config.probe)
        self._started = False
        self._last_video_ms: float | None = None
        self.ramped = False  # whether the last update was lifted by the probe ramp

    @property
    def usage(self) -> BandwidthUsage:
        return self.detector.state

    def bitrate_bps(self) -> float:
        return self.aimd.bitrate_bps()

    def _delay_signal(self, results: list[PacketResult], now_ms: float) -> list[PacketResult]:
        """The arrivals the delay signal takes: the video's, or sound while no video comes."""
        arrived = [r for r in results if r.arrived_ms is not None]
        if any(not r.is_audio for r in arrived):
            self._last_video_ms = now_ms
            return [r for r in arrived if not r.is_audio]
        last = self._last_video_ms
        return arrived if last is None or now_ms - last >= AUDIO_ONLY_AFTER_MS else []

    def on_feedback(
        self, results: list[PacketResult], acked_bps: float | None, now_ms: float, rtt_ms: float
    ) -> float:
        if not self._started:
            self._started = True
            if self.config.probe_at_start:
                self.probe.start(now_ms)
        self.ramped = False
        received = sorted(self._delay_signal(results, now_ms),
                          key=lambda r: (r.arrived_ms, r.transport_seq))
        if not received:
            return self.aimd.bitrate_bps()
        for result in received:
            delta = self.inter_arrival.add(result)
            if delta is not None:
                trend = self.trendline.update(delta)
                self.detector.detect(trend, delta.send_delta_ms, delta.arrival_ms)
        usage = self.detector.state
        self.aimd.rtt_ms = rtt_ms
        self.probe.on_usage(usage, now_ms)
        if usage is BandwidthUsage.OVERUSING:
            if self.aimd.time_to_reduce_further(now_ms, acked_bps):
                self.aimd.update(usage, acked_bps, now_ms)
        else:
            self.aimd.update(usage, acked_bps, now_ms)
            # A ramp goes on while the queue drains too (under-use): that is spare capacity.
            ramp_bps = self.probe.ramp_rate(self.aimd.bitrate_bps(), acked_bps, now_ms)
            if ramp_bps is not None:
                self.aimd.set_estimate(ramp_bps, now_ms)
                self.ramped = True
        self.probe.on_estimate(self.aimd.bitrate_bps(), now_ms)
        return self.aimd.bitrate_bps()
