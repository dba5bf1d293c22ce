"""Content profiles: what the simulator knows of the video a real call would send.

Each is fitted from real libvpx VP8 encodes of that content by `python -m
experiments.sim.fit_quality --source SOURCE` (see its doc for the method); refit after changing
the encoder settings, the stamp or the quality measure, and paste the printed numbers here.
Fitted on 2026-12-01 (SSIM/PSNR of the Y plane as coded, peer.quality.luma_plane):

    testpattern (640x480, 30 fps)      clip:bikes (640x272, 25 fps)
    kbit/s   bpp   SSIM dB  PSNR dB    kbit/s   bpp   SSIM dB  PSNR dB
      100  0.035   13.96    37.78        100  0.037   13.94    37.05
      400  0.044   14.68    39.44        400  0.114   18.44    43.81
      800  0.090   17.36    45.68        800  0.235   18.59    44.50
     1600  0.182   17.89    46.26       1600  0.456   22.80    50.14
     6400  0.535   19.19    48.77       6400  0.508   23.14    50.72

    ssim_db = 20.59 + 1.81·ln(bpp)      ssim_db = 24.74 + 2.94·ln(bpp)
    psnr_db = 51.93 + 3.79·ln(bpp)      psnr_db = 53.03 + 4.28·ln(bpp)
    keyframe/delta at one quantizer 1.6  keyframe/delta at one quantizer 2.3

The bikes clip reaches a far better picture per bit than the pattern (no per-frame sensor
noise, a static background). Below about 0.04 bpp neither gets smaller: quantizer 56 is the
floor. The test pattern keeps the encoder model's long-standing defaults (keyframe_ratio 7,
delta_sigma 0.2: peer/vp8_encoder.py's per-frame targets, tools/bench_encoder) so that its
simulated calls stay comparable with earlier ones; the clip's keyframe_ratio is its fitted one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from experiments.sim.encoder_model import EncoderModelConfig


@dataclass(frozen=True, slots=True)
class ContentProfile:
    """One content's frame size and rate, its quality per bit (`a + b·ln(bpp)`, dB) and how
    the encoder model sizes its frames."""

    source: str  # as --source names it
    width_px: int
    height_px: int
    fps: float
    ssim_db_intercept: float  # SSIM dB at 1 bit per pixel
    ssim_db_per_ln_bpp: float  # SSIM dB gained per e-fold of bits per pixel
    psnr_db_intercept: float
    psnr_db_per_ln_bpp: float
    encoder: EncoderModelConfig = field(default_factory=EncoderModelConfig)


TEST_PATTERN = ContentProfile("testpattern", 640, 480, 30.0, 20.59, 1.81, 51.93, 3.79)
BIKES = ContentProfile("clip:bikes", 640, 272, 25.0, 24.74, 2.94, 53.03, 4.28,
                       EncoderModelConfig(keyframe_ratio=2.3))
PROFILES = {profile.source: profile for profile in (TEST_PATTERN, BIKES)}


def content_profile(source: str) -> ContentProfile:
    """The fitted profile of `source`; ValueError (one line) for content without one."""
    profile = PROFILES.get(source)
    if profile is not None:
        return profile
    if source.startswith("clip:"):
        from peer.clip_source import clip_path

        clip_path(source.removeprefix("clip:"))  # an unknown clip: lists the clips there are
        raise ValueError(f"the simulator has no content profile for {source}; fit one with "
                         f"python -m experiments.sim.fit_quality --source {source} and add it "
                         f"to experiments/sim/content.py (profiles: {', '.join(PROFILES)})")
    raise ValueError(f"source {source!r}: the simulator models {', '.join(PROFILES)}")
