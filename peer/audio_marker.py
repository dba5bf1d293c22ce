"""The tone's once-a-second marker: what it sounds like, and finding it again after Opus.

The tone is a steady `TONE_HZ` sine. At every whole second n of the tone's timeline the sine
changes for `MARKER_MS` to one of `MARKER_HZ`, chosen by n mod 4: a frequency change is what a
speech codec keeps (Opus codes the spectrum; a phase flip or a sub-millisecond click it may
smooth away), and the code tells a marker from the three before it, so a receiver can name
marker n unambiguously for delays up to 4 s.

The detector is sans-I/O: it is fed decoded samples with the time their first sample is heard
and reports each marker's code and the time its first sample was heard. It measures the power
at the four marker frequencies (Goertzel) in `WINDOW_MS` windows every `HOP_MS`; a marker
starts at the first window where one marker frequency holds most of the window's energy, at
least `MARKER_GAP_S` after the previous one (speech or noise spreads its energy: no marker).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

TONE_HZ = 440.0
MARKER_HZ = (1200.0, 1700.0, 2300.0, 3000.0)  # below Opus's narrowest band (4 kHz)
MARKER_MS = 60.0
MARKER_PERIOD_S = 1.0
TONE_AMPLITUDE = 0.3  # of full scale: room for Opus's overshoot
WINDOW_MS = 5.0
HOP_MS = 1.0
MARKER_POWER_SHARE = 0.5  # the marker frequency's share of the window's energy
HANN_SINE_SHARE = 3.0  # |X|^2 / (N * energy) of a pure sine under a Hann window is 1/3
MIN_POWER = 1e-4  # mean square (full scale 1): below this the window is silence
MARKER_GAP_S = 0.5  # a new marker at least this long after the last one


def marker_code(n: int) -> int:
    return n % len(MARKER_HZ)


def tone_samples(first_sample: int, count: int, sample_rate: int) -> np.ndarray:
    """Samples [first, first + count) of the marked tone, float in [-1, 1]. Sample s is at
    s / sample_rate seconds on the tone's timeline; marker n starts at second n."""
    s = np.arange(first_sample, first_sample + count, dtype=np.int64)
    period = round(MARKER_PERIOD_S * sample_rate)
    n, into = np.divmod(s, period)
    marked = into < round(MARKER_MS / 1000.0 * sample_rate)
    freq = np.where(marked, np.asarray(MARKER_HZ)[n % len(MARKER_HZ)], TONE_HZ)
    t = s.astype(np.float64) / sample_rate
    return (TONE_AMPLITUDE * np.sin(2 * math.pi * freq * t)).astype(np.float32)


def captured_at(code: int, heard_at: float, t0: float) -> float | None:
    """When the marker with `code`, heard at `heard_at`, was captured: second n of a tone whose
    timeline starts at `t0`, the latest n with that code not after `heard_at` (None before the
    first)."""
    n = math.floor(heard_at - t0)
    while n >= 0 and marker_code(n) != code:
        n -= 1
    return t0 + n * MARKER_PERIOD_S if n >= 0 else None


@dataclass(frozen=True)
class HeardMarker:
    code: int
    heard_at: float  # seconds, the clock `feed` was given


class MarkerDetector:
    def __init__(self, sample_rate: int) -> None:
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {sample_rate}")
        self.sample_rate = sample_rate
        self._window = max(8, round(WINDOW_MS / 1000.0 * sample_rate))
        self._hop = max(1, round(HOP_MS / 1000.0 * sample_rate))
        t = np.arange(self._window) / sample_rate
        # Correlating with a windowed complex exponential: Goertzel's power at each frequency.
        taper = np.hanning(self._window)
        self._taper = taper
        self._basis = np.stack([taper * np.exp(-2j * math.pi * f * t) for f in MARKER_HZ])
        self._buffer = np.zeros(0, dtype=np.float64)
        self._buffer_at = 0.0  # time of the buffer's first sample
        self._last_marker_at: float | None = None
        self.markers_heard = 0

    def feed(self, samples: np.ndarray, first_heard_at: float) -> list[HeardMarker]:
        """Mono samples (float, full scale 1) whose first one is heard at `first_heard_at`."""
        # Anchored to each chunk's own time: samples arrive in frames, and a late frame is
        # heard late (the leftover of the last one just before it).
        self._buffer_at = first_heard_at - len(self._buffer) / self.sample_rate
        self._buffer = np.concatenate([self._buffer, np.asarray(samples, dtype=np.float64)])
        heard: list[HeardMarker] = []
        count = (len(self._buffer) - self._window) // self._hop + 1
        if count <= 0:
            return heard
        starts = np.arange(count) * self._hop
        frames = np.lib.stride_tricks.sliding_window_view(self._buffer, self._window)[starts]
        power = np.abs(frames @ self._basis.T) ** 2  # (windows, markers)
        mean_square = np.mean(frames**2, axis=1)
        best = np.argmax(power, axis=1)
        # The marker frequency's share of the window's energy: 1 for a pure sine at it
        # (a Hann window's sum is N/2 and its sum of squares 3N/8), near 0 for noise.
        energy = self._window * np.sum((frames * self._taper) ** 2, axis=1)
        share = HANN_SINE_SHARE * power[np.arange(count), best] / np.maximum(energy, 1e-30)
        present = (share >= MARKER_POWER_SHARE) & (mean_square >= MIN_POWER)
        for i in np.flatnonzero(present):
            at = self._buffer_at + starts[i] / self.sample_rate
            if self._last_marker_at is None or at - self._last_marker_at >= MARKER_GAP_S:
                self._last_marker_at = at
                self.markers_heard += 1
                heard.append(HeardMarker(int(best[i]), at))
        consumed = count * self._hop
        self._buffer = self._buffer[consumed:]
        self._buffer_at += consumed / self.sample_rate
        return heard
