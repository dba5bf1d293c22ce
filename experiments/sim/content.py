"""Content profiles: what the simulator knows of the video a real call would send.

Each is fitted from real libvpx VP8 encodes of that content by `python -m
experiments.sim.fit_quality --source SOURCE` (see its doc for the method); refit after changing
the encoder settings, the stamp or the quality measure, and paste the printed numbers here.
The test pattern refitted on 2026-12-02, clip:bikes fitted on 2026-12-01 (SSIM/PSNR of the
Y plane as coded, peer.quality.luma_plane; default --frames 60):

    testpattern (640x480, 30 fps)      clip:bikes (640x272, 25 fps)
    kbit/s   bpp   SSIM dB  PSNR dB    kbit/s   bpp   SSIM dB  PSNR dB
    100-200 0.025  14.37    38.32        100  0.037   13.94    37.05
      400  0.045   16.38    43.21        400  0.114   18.44    43.81
      800  0.097   17.53    46.13        800  0.235   18.59    44.50
     1600  0.194   18.39    47.63       1600  0.456   22.80    50.14
     3200  0.373   19.20    48.77       6400  0.508   23.14    50.72
     6400  0.393   19.27    48.90

    keyframe/delta at one quantizer 2.6  keyframe/delta at one quantizer 2.3

The pattern's 2026-12-01 points had gone stale: the same tool on today's pattern and encoder
gives 16.38 dB at 0.045 bpp where they said 14.68 at 0.044, 18.39 at 0.194 for 17.89 at
0.182, and the simulator's mean SSIM was 0.33-0.54 dB below the real calls' of a calibrate run
in 6 of its 8 cells. Against the 30,000 delta frames those real calls showed (receiver.jsonl
sizes and SSIM, binned by size) the refitted points are within 0.1 dB from 2.9 to 16 kB a
frame (0.075-0.43 bpp) and 0.3-0.45 dB high at 1.4-2 kB, where the old ones were 0.3-1.1 dB
low. At 100 and 200 kbit/s the pattern is at quantizer 56 either way (0.0246 and 0.0250 bpp,
14.42 and 14.31 dB): one point, their mean. Fitting 300 frames a rate instead of 60 gives
0.1-0.3 dB more (libvpx keeps refining the static texture), above what the calls reach.

The simulator reads quality off these points (`quality_curve`), straight between neighbours
in ln(bpp) and flat beyond the ends. One line through them (ssim_db = 20.59 + 1.81·ln(bpp)
for the pattern) was up to 1.1 dB low where calls spend most of their time (0.06-0.15 bpp),
and the simulator's SSIM was 0.7-3 dB below the real calls'.

The bikes clip reaches a far better picture per bit than the pattern (no per-frame sensor
noise, a static background). Below about 0.025 bpp (the pattern) and 0.04 bpp (the clip)
neither gets smaller: quantizer 56 is the floor (encoder_model.QUANTIZER_FLOOR_BYTES).
The test pattern keeps the encoder model's long-standing defaults (keyframe_ratio 7,
delta_sigma 0.2: peer/vp8_encoder.py's per-frame targets, tools/bench_encoder) so that its
simulated calls stay comparable with earlier ones; the clip's keyframe_ratio is its fitted one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from experiments.sim.encoder_model import EncoderModelConfig

QualityPoint = tuple[float, float, float]  # (bits per pixel, SSIM dB, PSNR dB) of real VP8


@dataclass(frozen=True, slots=True)
class ContentProfile:
    """One content's frame size and rate, its measured quality per bit and how the encoder
    model sizes its frames."""

    source: str  # as --source names it
    width_px: int
    height_px: int
    fps: float
    quality_curve: tuple[QualityPoint, ...]  # bpp increasing
    encoder: EncoderModelConfig = field(default_factory=EncoderModelConfig)

    def __post_init__(self) -> None:
        bpps = [point[0] for point in self.quality_curve]
        if len(bpps) < 2 or bpps != sorted(set(bpps)) or bpps[0] <= 0:
            raise ValueError(f"{self.source}: quality_curve needs two or more points of "
                             "increasing, positive bits per pixel")


TEST_PATTERN = ContentProfile("testpattern", 640, 480, 30.0, (
    (0.0248, 14.37, 38.32), (0.0448, 16.38, 43.21), (0.0965, 17.53, 46.13),
    (0.1941, 18.39, 47.63), (0.3731, 19.20, 48.77), (0.3925, 19.27, 48.90)))
BIKES = ContentProfile("clip:bikes", 640, 272, 25.0, (
    (0.037, 13.94, 37.05), (0.114, 18.44, 43.81), (0.235, 18.59, 44.50),
    (0.456, 22.80, 50.14), (0.508, 23.14, 50.72)),
    # Its quantizer-56 floor is not measured: the encoder model's bare minimum only.
    EncoderModelConfig(keyframe_ratio=2.3, floor_bytes=()))
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
