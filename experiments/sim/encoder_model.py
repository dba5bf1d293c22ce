"""A statistical stand-in for the VP8 encoder, for calls in virtual time.

It answers the one question the network cares about: how many bytes does a frame take when
the controller asked for `target_bytes`? Delta frames scatter around the target with a
lognormal spread (libvpx's one-pass realtime rate control hits its per-frame target within
roughly ±20 %); a keyframe costs several delta frames (5–10x at 640x480 for camera-like
content), capped by the controller's `max_keyframe_bytes` as `VP8E_SET_MAX_INTRA_BITRATE_PCT`
caps it in libvpx. A skipped frame costs nothing and never reaches the encoder.

Below some target a delta frame cannot get smaller: at the coarsest quantizer (56) the
content's change since the previous encoded frame still costs bytes, and more the longer ago
that frame was (`QUANTIZER_FLOOR_BYTES`). Without that floor the simulated sender shipped
200-byte frames in the TMobile outages where the real one shipped ~2,000-byte ones, so its
frames queued less (p95 signal delay 3,571 vs 6,155 ms) and gcc's overshoot debt, which
makes it skip frames, never built up (1,781 frames sent vs 1,032).

Pure and seeded: the same seed and the same requests give the same sizes.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

# Smallest frame libvpx emits for 640x480 at any target (an all-skip delta frame is ~20 bytes;
# a useful one at rock-bottom quantizer ~ a few hundred).
MIN_FRAME_BYTES = 200
# The test pattern's delta-frame size at quantizer 56 by frames since the previous encoded
# frame (the last entry holds for every longer gap): medians over the 24 real calls of a
# `calibrate --repeat 3` run, 2026-12-02 (receiver.jsonl sizes; gap from consecutive shown
# frame ids) at targets <= 70 kbit/s, where the budget is under half the frame: gap 1: 1,041
# (n 12), 2: 1,630 (13), 3: 1,847 (9), >= 8: 2,048-2,082 (227); each within about +-10 %
# (p10-p90). Gap 1 agrees with tools/bench_encoder (a 625-byte target at 150 kbit/s came
# out 1.64x, ~1,025 bytes).
QUANTIZER_FLOOR_BYTES = (1_040, 1_630, 1_850, 2_080)
# The spread of sizes at the floor (p10-p90 within about +-10 % at each gap above).
FLOOR_SIGMA = 0.07
# Smallest keyframe libvpx emits for 640x480 at its coarsest quantizer.
MIN_KEYFRAME_BYTES = 1_500


@dataclass(frozen=True, slots=True)
class EncoderModelConfig:
    """How the modelled encoder scatters frame sizes.

    delta_sigma: standard deviation of ln(size / target) for delta frames (0.2 ≈ ±20 %).
    keyframe_sigma: the same for keyframes (they track their target more loosely).
    keyframe_ratio: a keyframe's uncapped size relative to the delta target (5–10 at VGA).
    floor_bytes: the smallest delta frame by frames since the previous encoded one (index 0:
    the frame right before), the last entry for longer gaps; () for none beyond
    MIN_FRAME_BYTES (content whose floor has not been measured).
    """

    delta_sigma: float = 0.2
    keyframe_sigma: float = 0.1
    keyframe_ratio: float = 7.0
    floor_bytes: tuple[int, ...] = QUANTIZER_FLOOR_BYTES

    def __post_init__(self) -> None:
        if self.delta_sigma < 0 or self.keyframe_sigma < 0:
            raise ValueError("encoder model: sigmas must be >= 0")
        if self.keyframe_ratio < 1:
            raise ValueError("encoder model: keyframe_ratio must be >= 1")
        if any(b < 0 for b in self.floor_bytes):
            raise ValueError("encoder model: floor_bytes must be >= 0")

    def floor_at(self, frames_since_last: int) -> int:
        """The smallest delta frame `frames_since_last` capture intervals after the previous
        encoded frame."""
        if not self.floor_bytes:
            return MIN_FRAME_BYTES
        index = min(max(frames_since_last, 1), len(self.floor_bytes)) - 1
        return max(MIN_FRAME_BYTES, self.floor_bytes[index])


@dataclass(frozen=True, slots=True)
class EncodedFrame:
    """One frame as the modelled encoder produced it."""

    size_bytes: int
    keyframe: bool
    # The delta-frame budget the encoder aimed at; quality follows this, not the keyframe size.
    target_bytes: int


class EncoderModel:
    """Frame sizes for requested budgets; the first frame is always a keyframe."""

    def __init__(self, config: EncoderModelConfig | None = None, seed: int = 0) -> None:
        self.config = config or EncoderModelConfig()
        self._rng = random.Random(seed)
        self._need_keyframe = True
        self.frames_encoded = 0
        self.keyframes = 0

    def request_keyframe(self) -> None:
        """Make the next encoded frame a keyframe (a PLI arrived, or the controller asked)."""
        self._need_keyframe = True

    def encode(
        self, target_bytes: int, *, force_keyframe: bool = False, max_keyframe_bytes: int = 0,
        frames_since_last: int = 1,
    ) -> EncodedFrame:
        """Encode one frame aiming at `target_bytes`; `max_keyframe_bytes` <= 0 means no cap.
        `frames_since_last`: capture intervals since the previous encoded frame (1: none
        skipped in between); a delta frame is never smaller than the floor for that gap."""
        target = max(MIN_FRAME_BYTES, int(target_bytes))
        keyframe = force_keyframe or self._need_keyframe
        self._need_keyframe = False
        cfg = self.config
        if keyframe:
            size = target * cfg.keyframe_ratio * self._lognormal(cfg.keyframe_sigma)
            if max_keyframe_bytes > 0:
                size = min(size, max_keyframe_bytes)
            size = max(size, MIN_KEYFRAME_BYTES)
            self.keyframes += 1
        else:
            size = target * self._lognormal(cfg.delta_sigma)
            floor = cfg.floor_at(frames_since_last)
            if size < floor:
                size = max(size, floor * self._lognormal(FLOOR_SIGMA))
        self.frames_encoded += 1
        return EncodedFrame(size_bytes=round(size), keyframe=keyframe, target_bytes=target)

    def _lognormal(self, sigma: float) -> float:
        """A lognormal factor with mean 1: exp(N(-sigma²/2, sigma))."""
        if sigma == 0:
            return 1.0
        return math.exp(self._rng.gauss(-sigma * sigma / 2, sigma))
