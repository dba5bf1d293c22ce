"""Acknowledged bitrate: what the receiver actually got, from received PacketResults.

The method of libwebrtc's AcknowledgedBitrateEstimator / BitrateEstimator:

* received bytes are summed in windows of receive time: `initial_window_ms` (500 ms) until the
  first estimate exists, then `window_ms` (150 ms); each full window gives one rate sample;
* the estimate is a scalar Bayesian (Kalman-like) filter: the sample's variance grows with its
  distance from the estimate (`uncertainty_scale` · |estimate − sample| / estimate, squared),
  and the estimate's own variance grows by `variance_growth` per sample so that it can move;
* samples taken in application-limited periods (`set_alr(True)`) that pull the estimate down
  are trusted less (`uncertainty_scale_in_alr`), because a sender that had nothing to send
  says nothing about the link; `expect_fast_rate_change()` (e.g. after a probe or at the end of
  an ALR period) adds `fast_change_variance` so the next samples move the estimate quickly.

Rates are filtered in kbit/s (the variances' unit), reported in bit/s. Only receive-time
differences are used, so the receiver's clock offset does not matter; if receive time goes
backwards (feedback from before a reset) the window restarts.
"""

from __future__ import annotations

from dataclasses import dataclass

from ratecontrol.types import PacketResult


@dataclass(frozen=True, slots=True)
class AckedBitrateConfig:
    initial_window_ms: float = 500.0  # window before the first estimate
    window_ms: float = 150.0  # window afterwards
    uncertainty_scale: float = 10.0  # sample std-dev per unit of relative error
    uncertainty_scale_in_alr: float = 20.0  # same, for samples below the estimate in ALR
    initial_variance_kbps2: float = 50.0  # variance of the first estimate, (kbit/s)^2
    variance_growth_kbps2: float = 5.0  # process noise added before each sample, (kbit/s)^2
    fast_change_variance_kbps2: float = 200.0  # added by expect_fast_rate_change()
    floor_bps: float = 0.0  # the estimate never drops below this

    def __post_init__(self) -> None:
        if not (self.initial_window_ms > 0 and self.window_ms > 0):
            raise ValueError("initial_window_ms and window_ms must be > 0")


class AckedBitrateEstimator:
    def __init__(self, config: AckedBitrateConfig | None = None) -> None:
        self.config = config or AckedBitrateConfig()
        self._estimate_kbps: float | None = None
        self._variance = self.config.initial_variance_kbps2
        self._window_bytes = 0
        self._window_elapsed_ms = 0.0
        self._last_arrival_ms: float | None = None
        self._in_alr = False

    def update(self, results: list[PacketResult], now_ms: float) -> None:
        """Add the received packets of one feedback (lost ones are skipped)."""
        received = sorted((r.arrived_ms, r.size_bytes) for r in results if r.arrived_ms is not None)
        for arrived_ms, size in received:
            self._add(arrived_ms, size)

    def on_feedback(self, results: list[PacketResult], now_ms: float) -> None:
        """Same as `update` (the name the controllers use for their other stages)."""
        self.update(results, now_ms)

    def bitrate_bps(self, now_ms: float | None = None) -> float | None:
        """The acknowledged bitrate, or None before the first full window."""
        return None if self._estimate_kbps is None else self._estimate_kbps * 1000.0

    def set_alr(self, in_alr: bool) -> None:
        self._in_alr = in_alr

    def expect_fast_rate_change(self) -> None:
        self._variance += self.config.fast_change_variance_kbps2

    def _add(self, arrived_ms: float, size_bytes: int) -> None:
        sample = self._window_sample(arrived_ms, size_bytes)
        if sample is None:
            return
        cfg = self.config
        if self._estimate_kbps is None:
            self._estimate_kbps = max(sample, cfg.floor_bps / 1000.0)
            return
        est = self._estimate_kbps
        scale = cfg.uncertainty_scale
        if self._in_alr and sample < est:
            scale = cfg.uncertainty_scale_in_alr
        # 1 kbit/s under the division so that an estimate at zero can still move.
        sample_std = scale * abs(est - sample) / max(est, 1.0)
        sample_var = sample_std * sample_std
        prior_var = self._variance + cfg.variance_growth_kbps2
        est = (sample_var * est + prior_var * sample) / (sample_var + prior_var)
        self._estimate_kbps = max(est, cfg.floor_bps / 1000.0)
        self._variance = sample_var * prior_var / (sample_var + prior_var)

    def _window_sample(self, arrived_ms: float, size_bytes: int) -> float | None:
        """Sum bytes per window of receive time; the rate (kbit/s) of each window that fills."""
        cfg = self.config
        window = cfg.initial_window_ms if self._estimate_kbps is None else cfg.window_ms
        last = self._last_arrival_ms
        if last is not None and arrived_ms < last:  # time went backwards: start again
            last = None
            self._window_bytes = 0
            self._window_elapsed_ms = 0.0
        if last is not None:
            gap = arrived_ms - last
            self._window_elapsed_ms += gap
            if gap > window:  # silence longer than a window: what was summed is stale
                self._window_bytes = 0
                self._window_elapsed_ms %= window
        self._last_arrival_ms = arrived_ms
        sample = None
        if self._window_elapsed_ms >= window:
            sample = 8.0 * self._window_bytes / window
            self._window_elapsed_ms -= window
            self._window_bytes = 0
        self._window_bytes += size_bytes
        return sample
