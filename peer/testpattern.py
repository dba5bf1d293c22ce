"""The stamped test pattern: natural-looking moving video as a pure function of frame number.

What makes it compress like a camera rather than a cartoon: a multi-octave texture (large
soft shapes and fine grain) that pans, a few textured objects moving on their own paths, and
sensor-like noise that changes every frame. Everything comes from fixed seeds, so the receiver
regenerates any source frame from the stamp alone and compares it with what it decoded.
"""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np

from peer.stamp import draw_stamp, stamp_box

DEFAULT_WIDTH = 640
DEFAULT_HEIGHT = 480
DEFAULT_FPS = 30
_TEXTURE_SEED = 20180409  # Salsify's NSDI date; any fixed value would do
_NOISE_FRAMES = 16
_NOISE_SIGMA = 1.0
OCTAVE_CELLS = (4, 8, 16, 32, 64, 128)  # coarse to fine
OCTAVE_GAIN = 0.5  # amplitude kept from one octave to the next


def _octave_texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Sum of noise octaves, coarse to fine, each finer one weaker by OCTAVE_GAIN."""
    total = np.zeros((height, width), np.float32)
    amplitude, weight = 1.0, 0.0
    for cells in OCTAVE_CELLS:
        coarse = rng.standard_normal((max(2, height * cells // width), cells)).astype(np.float32)
        total += amplitude * cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
        weight += amplitude
        amplitude *= OCTAVE_GAIN
    total /= weight
    return total


def _to_u8(values: np.ndarray, mean: float, spread: float) -> np.ndarray:
    scaled = mean + spread * (values - values.mean()) / (values.std() + 1e-6)
    return np.clip(scaled, 0, 255).astype(np.uint8)


class TestPattern:
    """Renders frame n of the pattern at one resolution; textures are built once."""

    __test__ = False  # not a pytest class
    kind = "testpattern"  # its name in a source announcement (peer.source.SourceClock)

    def __init__(self, width: int = DEFAULT_WIDTH, height: int = DEFAULT_HEIGHT) -> None:
        if width % 2 or height % 2 or width < 64 or height < 48:
            raise ValueError(f"test pattern size {width}x{height}: use even sizes >= 64x48")
        self.width, self.height = width, height
        rng = np.random.default_rng(_TEXTURE_SEED)
        big_h, big_w = height * 2, width * 2
        self._luma = _to_u8(_octave_texture(rng, big_h, big_w), 120, 45)
        self._u = _to_u8(_octave_texture(rng, big_h // 2, big_w // 2), 118, 14)
        self._v = _to_u8(_octave_texture(rng, big_h // 2, big_w // 2), 136, 14)
        size = min(width, height) // 5
        self._object_luma = [
            _to_u8(_octave_texture(rng, size, size), mean, 35) for mean in (190, 60, 150)
        ]
        self._noise = rng.normal(0, _NOISE_SIGMA, (_NOISE_FRAMES, height, width)).astype(np.int16)
        self._object_mask = np.zeros((size, size), np.uint8)
        cv2.circle(self._object_mask, (size // 2, size // 2), size // 2 - 1, 1, -1)

    def render_i420(self, frame_id: int) -> np.ndarray:
        """Frame `frame_id` as I420: shape (H*3/2, W), the Y plane then U then V."""
        w, h = self.width, self.height
        # Slow pan over the texture, on incommensurate periods so it does not loop soon.
        x = int((w / 2) * (1 + math.sin(2 * math.pi * frame_id / 397)))
        y = int((h / 2) * (1 + math.sin(2 * math.pi * frame_id / 251)))
        x, y = min(x, w) & ~1, min(y, h) & ~1
        luma = self._luma[y : y + h, x : x + w].copy()
        for index, texture in enumerate(self._object_luma):
            self._paste_object(luma, texture, frame_id, index)
        noise = self._noise[frame_id % _NOISE_FRAMES]
        luma = np.clip(luma.astype(np.int16) + np.roll(noise, frame_id % 7, axis=0), 0, 255)
        luma = luma.astype(np.uint8)
        u = self._u[y // 2 : y // 2 + h // 2, x // 2 : x // 2 + w // 2].copy()
        v = self._v[y // 2 : y // 2 + h // 2, x // 2 : x // 2 + w // 2].copy()
        draw_stamp(luma, frame_id)
        box_w, box_h = stamp_box(w)
        u[: (box_h + 1) // 2, : (box_w + 1) // 2] = 128
        v[: (box_h + 1) // 2, : (box_w + 1) // 2] = 128
        return np.concatenate([luma, u.reshape(h // 4, w), v.reshape(h // 4, w)])

    def luma(self, frame_id: int) -> np.ndarray:
        return self.render_i420(frame_id)[: self.height]

    def _paste_object(self, luma: np.ndarray, texture: np.ndarray, frame_id: int,
                      index: int) -> None:
        size = texture.shape[0]
        phase = frame_id / (60 + 23 * index)
        cx = (self.width - size) * (0.5 + 0.45 * math.sin(2 * math.pi * phase + index))
        cy = (self.height - size) * (0.5 + 0.45 * math.cos(2 * math.pi * phase * 1.3 + 2 * index))
        x0, y0 = int(cx), int(cy)
        region = luma[y0 : y0 + size, x0 : x0 + size]
        np.copyto(region, texture, where=self._object_mask.astype(bool))


@functools.lru_cache(maxsize=4)
def pattern(width: int = DEFAULT_WIDTH, height: int = DEFAULT_HEIGHT) -> TestPattern:
    return TestPattern(width, height)


def render_i420(frame_id: int, width: int = DEFAULT_WIDTH,
                height: int = DEFAULT_HEIGHT) -> np.ndarray:
    """Frame `frame_id` of the stamped test pattern as I420 (H*3/2, W) uint8."""
    return pattern(width, height).render_i420(frame_id)


def render_luma(frame_id: int, width: int = DEFAULT_WIDTH,
                height: int = DEFAULT_HEIGHT) -> np.ndarray:
    return pattern(width, height).luma(frame_id)
