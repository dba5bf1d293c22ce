"""A statistical stand-in for the VP8 encoder, for calls in virtual time.

It answers the one question the network cares about: how many bytes does a frame take when
the controller asked for `target_bytes`? Delta frames scatter around the target with a
lognormal spread (libvpx's one-pass realtime rate control hits its per-frame target within
roughly ±20 %); a keyframe costs several delta frames (5–10x at 640x480 for camera-like
content), capped by the controller's `max_keyframe_bytes` as `VP8E_SET_MAX_INTRA_BITRATE_PCT`
caps it in libvpx. A skipped frame costs nothing and never reaches the encoder.

Pure and seeded: the same seed and the same requests give the same sizes.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

# Smallest frame libvpx emits for 640x480 at any target (an all-skip delta frame is ~20 bytes;
# a useful one at rock-bottom quantizer ~ a few hundred).
MIN_FRAME_BYTES = 200
# Smallest keyframe libvpx emits for 640x480 at its coarsest quantizer.
MIN_KEYFRAME_BYTES = 1_500


@dataclass(frozen=True, slots=True)
class EncoderModelConfig:
    """How the modelled encoder scatters frame sizes.

    delta_sigma: standard deviation of ln(size / target) for delta frames (0.2 ≈ ±20 %).
    keyframe_sigma: the same for keyframes (they track their target more loosely).
    keyframe_ratio: a keyframe's uncapped size relative to the delta target (5–10 at VGA).
    """

    delta_sigma: float = 0.2
    keyframe_sigma: float = 0.1
    keyframe_ratio: float = 7.0

    def __post_init__(self) -> None:
        if self.delta_sigma < 0 or self.keyframe_sigma < 0:
            raise ValueError("encoder model: sigmas must be >= 0")
        if self.keyframe_ratio < 1:
            raise ValueError("encoder model: keyframe_ratio must be >= 1")


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
        self, target_bytes: int, *, force_keyframe: bool = False, max_keyframe_bytes: int = 0
    ) -> EncodedFrame:
        """Encode one frame aiming at `target_bytes`; `max_keyframe_bytes` <= 0 means no cap."""
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
            size = max(target * self._lognormal(cfg.delta_sigma), MIN_FRAME_BYTES)
        self.frames_encoded += 1
        return EncodedFrame(size_bytes=round(size), keyframe=keyframe, target_bytes=target)

    def _lognormal(self, sigma: float) -> float:
        """A lognormal factor with mean 1: exp(N(-sigma²/2, sigma))."""
        if sigma == 0:
            return 1.0
        return math.exp(self._rng.gauss(-sigma * sigma / 2, sigma))
