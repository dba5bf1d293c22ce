"""Benchmark of peer.vp8_encoder: speed, rate following, per-frame size targets, skips.

    python -m tools.bench_encoder [--frames N] [--speeds -6,-8,-12] [--threads 1,2]

Prints figures only; nothing is asserted (the machines are shared and noisy).
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import time
from collections.abc import Sequence

import numpy as np

from peer.testpattern import render_i420
from peer.vp8_encoder import PerFrameMode, RateFollowing, Vp8Encoder, Vp8EncoderConfig

FPS = 30.0
RATE_STEPS_BPS = (300_000, 800_000, 150_000, 1_200_000, 500_000, 250_000, 1_000_000, 400_000)


def _frames(count: int) -> list[np.ndarray]:
    return [render_i420(i) for i in range(count)]


def bench_speed(frames: list[np.ndarray], speeds: Sequence[int], threads: Sequence[int]) -> None:
    print("== encode speed, 640x480, 1 Mbit/s target ==")
    for thread_count in threads:
        for cpu_used in speeds:
            config = Vp8EncoderConfig(cpu_used=cpu_used, threads=thread_count, target_bps=1_000_000)
            times: list[float] = []
            with Vp8Encoder(config) as encoder:
                for frame in frames:
                    start = time.perf_counter()
                    encoder.encode(frame)
                    times.append(time.perf_counter() - start)
            median_ms = statistics.median(times[5:]) * 1e3
            print(
                f"cpu_used={cpu_used:4d} threads={thread_count}: median {median_ms:6.2f} ms/frame"
                f" = {1000 / median_ms:6.1f} fps"
            )


def bench_rate_following(
    frames: list[np.ndarray], follow: RateFollowing, seconds_per_step: float = 2.0
) -> None:
    print(f"== output rate after in-place target changes, follow_rate_with={follow} ==")
    per_step = int(seconds_per_step * FPS)
    keyframes = 0
    config = Vp8EncoderConfig(target_bps=RATE_STEPS_BPS[0], follow_rate_with=follow)
    with Vp8Encoder(config) as encoder:
        n = 0
        for target in RATE_STEPS_BPS:
            encoder.set_target_bps(target)
            sizes = []
            for _ in range(per_step):
                out = encoder.encode(frames[n % len(frames)], now_s=n / FPS)
                n += 1
                assert out is not None
                keyframes += out.keyframe
                sizes.append(out.size_bytes)
            windows = [
                sum(sizes[i : i + int(FPS)]) * 8 / 1000 for i in range(0, per_step, int(FPS))
            ]
            shown = " ".join(f"{w / (target / 1000):4.2f}" for w in windows)
            print(f"target {target / 1000:6.0f} kbps: actual/target per second {shown}")
    print(f"keyframes: {keyframes} (1 expected: the first frame)")


def _per_frame_targets(count: int, seed: int = 7) -> list[int]:
    rng = random.Random(seed)
    base = 2500.0
    targets = []
    for i in range(count):
        if i % 30 == 0:
            base = rng.choice((800.0, 1500.0, 2500.0, 4000.0, 6000.0))
        targets.append(int(base * math.exp(rng.gauss(0.0, 0.3))))
    return targets


def bench_per_frame(frames: list[np.ndarray]) -> None:
    print("== per-frame size targets (frames 10.. of the run) ==")
    targets = _per_frame_targets(len(frames))
    modes: tuple[PerFrameMode, ...] = ("rate", "quantizer")
    for mode in modes:
        ratios = []
        start = time.perf_counter()
        with Vp8Encoder(Vp8EncoderConfig(per_frame_mode=mode)) as encoder:
            for i, (frame, target) in enumerate(zip(frames, targets, strict=True)):
                out = encoder.encode(frame, target_bytes=target)
                assert out is not None
                if i >= 10:
                    ratios.append(out.size_bytes / target)
        elapsed_ms = (time.perf_counter() - start) / len(frames) * 1e3
        logs = [abs(math.log2(r)) for r in ratios]
        quantiles = statistics.quantiles(ratios, n=10)
        print(
            f"mode={mode:9s}: actual/target median {statistics.median(ratios):.2f}, "
            f"p10 {quantiles[0]:.2f}, p90 {quantiles[-1]:.2f}, "
            f"mean |log2| {statistics.fmean(logs):.3f}, {elapsed_ms:.2f} ms/frame"
        )


def bench_skips(
    frames: list[np.ndarray], follow: RateFollowing, target_bps: int = 600_000
) -> None:
    print(f"== skipping every other frame of a 30 fps capture, follow_rate_with={follow} ==")
    total = 0
    count = 0
    config = Vp8EncoderConfig(target_bps=target_bps, follow_rate_with=follow)
    with Vp8Encoder(config) as encoder:
        for n, frame in enumerate(frames):
            if n % 2:
                continue
            out = encoder.encode(frame, now_s=n / FPS)
            assert out is not None
            if n >= FPS:
                total += out.size_bytes
                count += 1
    seconds = (len(frames) - FPS) / FPS
    print(
        f"target {target_bps / 1000:.0f} kbps, {count} frames encoded: "
        f"{total * 8 / seconds / 1000:.0f} kbps out"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--frames", type=int, default=300, help="test-pattern frames to use")
    parser.add_argument("--speeds", default="-6,-8,-12,6", help="cpu_used values to time")
    parser.add_argument("--threads", default="1,2", help="thread counts to time")
    args = parser.parse_args(argv)
    if args.frames < 60:
        parser.error("--frames: use at least 60")
    speeds = [int(s) for s in args.speeds.split(",") if s]
    threads = [int(t) for t in args.threads.split(",") if t]
    frames = _frames(args.frames)
    bench_speed(frames, speeds, threads)
    bench_rate_following(frames, "libvpx")
    bench_rate_following(frames, "quantizer")
    bench_per_frame(frames)
    bench_skips(frames, "libvpx")
    bench_skips(frames, "quantizer")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
