"""A realtime VP8 encoder on libvpx itself: rate changed in place, keyframes only on request.

Why not PyAV's encoder: it ignores a new ``bit_rate`` once open, so aiortc rebuilds it (a
keyframe) at every real rate change. Here every change goes through
``vpx_codec_enc_config_set`` on the open encoder: never a keyframe unless asked for.

Settings follow libwebrtc's VP8 realtime encoder: one pass CBR, no lag, error resilient,
buffer 1000/500/600 ms, undershoot 100 % / overshoot 15 %, quantizer 2..56, cpu-used -6,
automatic keyframes off, keyframes capped at ``max_intra_bitrate_pct`` of a frame's budget
(900 % at 30 fps, libwebrtc's formula); one thread (the two cores are shared by a call).

How sizes are met (measured by ``python -m tools.bench_encoder``):

- ``target_bytes=N`` for one frame, two ways (``per_frame_mode``). ``"rate"``: set
  ``rc_target_bitrate = N·8·fps`` in place just before the frame, so that libvpx's frame
  budget is N. libvpx's CBR buffer model fights this (its buffer is in bits and gets
  rescaled at every change): actual/target median 0.88, p10 0.32, p90 1.33.
  ``"quantizer"`` (the default): pin the quantizer (min = max) to the value that a size
  model learned from the previous P frames (``QuantizerSizeModel`` in ``peer.vp8_rate``: a
  size-vs-quantizer curve, plus the cost of refining a coarser reference, and a quantizer
  whose own recent frame overshot is passed over) gives for N: median 1.01, p10 0.82, p90
  1.24 on the test pattern. Keyframes use their own model once
  one has been seen; the first keyframe is left to libvpx with its intra cap at 100 % of N.
  While the quantizer is pinned libvpx's buffer is kept full (``Vp8Encoder._apply``): past
  150 frames its CBR would otherwise override a low pinned quantizer.
- ``set_target_bps`` (``follow_rate_with``). ``"libvpx"``: only ``rc_target_bitrate``
  changes; libvpx's CBR takes 1–2 s to settle after a step (0.30–1.72 of target in the
  first second). ``"quantizer"`` (the default): a leaky bucket (``FrameBudget``) turns the
  rate into per-frame targets met as above: within 0.97–1.01 in the first second after a
  step (1.15 and 1.64 at 250 and 150 kbit/s: the test pattern needs more than that even at
  quantizer 56). Keyframes are left to libvpx's CBR under the intra cap; the bucket then
  pays them back over the next frames.

Time: ``encode(..., now_s=...)`` takes the capture time (the caller's clock; frames are
counted at ``fps`` when it is omitted). Output pts are in 1/90000 s since the first frame.
A skipped frame is simply not encoded: the bucket's next budget covers the whole gap since
the last encoded frame, and with ``follow_rate_with="libvpx"`` libvpx is given the real gap
as the frame duration, so its frame-rate estimate and buffer follow real time. Gaps are
counted up to ``max_gap_s`` (100 ms): after a long pause the next frame is not made huge. Frames
whose size we steer reach libvpx one nominal frame apart, so that its per-frame budget is
exactly ``rc_target_bitrate / fps``.

The caller never gets a frame later than it asked for: no lag, no lookahead, no drops
unless ``drop_frame_threshold_pct`` is set (then ``encode`` may return None).
"""

from __future__ import annotations

import ctypes
import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal

import av
import numpy as np

from peer.vp8_rate import FrameBudget, QuantizerSizeModel
from peer.vpx_lib import (
    CONTROL_NAMES,
    VP8E_GET_LAST_QUANTIZER,
    VP8E_GET_LAST_QUANTIZER_64,
    VP8E_SET_CPUUSED,
    VP8E_SET_MAX_INTRA_BITRATE_PCT,
    VP8E_SET_NOISE_SENSITIVITY,
    VP8E_SET_STATIC_THRESHOLD,
    VP8E_SET_TOKEN_PARTITIONS,
    VPX_CBR,
    VPX_CODEC_CX_FRAME_PKT,
    VPX_DL_REALTIME,
    VPX_EFLAG_FORCE_KF,
    VPX_ERROR_RESILIENT_DEFAULT,
    VPX_FRAME_IS_KEY,
    VPX_IMG_FMT_I420,
    VPX_KF_DISABLED,
    VPX_RC_ONE_PASS,
    VpxCodecCtx,
    VpxEncCfgStorage,
    VpxError,
    VpxImageStorage,
    VpxLib,
    load_libvpx,
)

VIDEO_CLOCK_HZ = 90_000
VIDEO_TIME_BASE = Fraction(1, VIDEO_CLOCK_HZ)
MIN_TARGET_BPS = 10_000
MAX_TARGET_BPS = 50_000_000
MIN_TARGET_BYTES = 50
PINNED_BUFFER_MS = (100, 50, 60)  # libvpx's buffer (size, initial, optimal) while q is pinned
VP8_MAX_QUANTIZER = 63

PerFrameMode = Literal["rate", "quantizer"]
RateFollowing = Literal["libvpx", "quantizer"]


@dataclass(frozen=True)
class Vp8EncoderConfig:
    """Encoder settings; defaults are libwebrtc's VP8 realtime ones at 640x480, 30 fps."""

    width: int = 640
    height: int = 480
    fps: float = 30.0  # nominal frame rate: frame-count clock and per-frame budget
    target_bps: int = 500_000
    cpu_used: int = -6  # libwebrtc's choice for >= 640x480 on desktop
    threads: int = 1
    min_quantizer: int = 2
    max_quantizer: int = 56
    undershoot_pct: int = 100
    overshoot_pct: int = 15
    buffer_ms: int = 1000
    buffer_initial_ms: int = 500
    buffer_optimal_ms: int = 600
    max_intra_bitrate_pct: int = 900  # keyframe ≤ 9 frame budgets (libwebrtc: 600 ms·0.5·fps/10)
    drop_frame_threshold_pct: int = 0  # 0: libvpx never drops; the caller skips frames itself
    error_resilient: bool = True
    noise_sensitivity: int = 0
    static_threshold: int = 1
    per_frame_mode: PerFrameMode = "quantizer"  # how target_bytes is met (see module doc)
    follow_rate_with: RateFollowing = "quantizer"  # how set_target_bps is met (module doc)
    quantizer_steps_per_halving: float = 16.0  # size model's slope until it has learned one
    size_model_smoothing: float = 0.5  # weight of the newest frame at its quantizer
    budget_repay_frames: float = 8.0  # frames over which an over/undershoot is paid back
    budget_max_debt_s: float = 0.3  # the most over/undershoot carried, in seconds of rate
    max_gap_s: float = 0.1  # a longer pause between frames is budgeted as this long

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0 or self.width % 2 or self.height % 2:
            raise ValueError(f"encoder size {self.width}x{self.height}: use positive even sizes")
        if not 1.0 <= self.fps <= 240.0:
            raise ValueError(f"encoder fps {self.fps}: use 1..240")
        if not MIN_TARGET_BPS <= self.target_bps <= MAX_TARGET_BPS:
            raise ValueError(
                f"target_bps {self.target_bps}: use {MIN_TARGET_BPS}..{MAX_TARGET_BPS}"
            )
        if not 0 <= self.min_quantizer <= self.max_quantizer <= VP8_MAX_QUANTIZER:
            raise ValueError(
                f"quantizer range {self.min_quantizer}..{self.max_quantizer}: use 0 <= min <= "
                f"max <= {VP8_MAX_QUANTIZER}"
            )
        if not -16 <= self.cpu_used <= 16:
            raise ValueError(f"cpu_used {self.cpu_used}: VP8 takes -16..16")
        if not 1 <= self.threads <= 16:
            raise ValueError(f"threads {self.threads}: use 1..16")
        if self.per_frame_mode not in ("rate", "quantizer"):
            raise ValueError(f"per_frame_mode {self.per_frame_mode!r}: use 'rate' or 'quantizer'")
        if self.follow_rate_with not in ("libvpx", "quantizer"):
            raise ValueError(
                f"follow_rate_with {self.follow_rate_with!r}: use 'libvpx' or 'quantizer'"
            )
        if self.quantizer_steps_per_halving <= 0 or not 0 < self.size_model_smoothing <= 1:
            raise ValueError("size model: steps per halving > 0 and smoothing in (0, 1]")
        if self.max_gap_s * self.fps < 1:
            raise ValueError(f"max_gap_s {self.max_gap_s}: use at least one frame (1/fps)")
        if self.budget_repay_frames < 1 or self.budget_max_debt_s < 0:
            raise ValueError("frame budget: repay_frames >= 1 and max_debt_s >= 0")


@dataclass(frozen=True)
class EncodedFrame:
    """One compressed VP8 frame. `pts` counts `time_base` units since the first frame."""

    data: bytes
    keyframe: bool
    pts: int
    quantizer: int = -1  # libvpx's q index 0..127 for this frame, -1 if unknown
    time_base: Fraction = VIDEO_TIME_BASE
    size_bytes: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "size_bytes", len(self.data))


def to_av_packet(encoded: EncodedFrame, time_base: Fraction | None = None) -> av.Packet:
    """An av.Packet that aiortc's RTCRtpSender packs as is (track.recv() may return it).

    aiortc reads bytes(packet), packet.pts and packet.time_base (the RTP timestamp is the pts
    converted to 1/90000); is_keyframe is set for consumers that look at it.
    """
    packet = av.Packet(encoded.data)
    if time_base is None or time_base == encoded.time_base:
        packet.pts = encoded.pts
        packet.time_base = encoded.time_base
    else:
        packet.pts = round(encoded.pts * encoded.time_base / time_base)
        packet.time_base = time_base
    packet.is_keyframe = encoded.keyframe
    return packet


class Vp8Encoder:
    """VP8 realtime encoder. Not thread-safe: call from one thread (or executor) at a time."""

    def __init__(self, config: Vp8EncoderConfig | None = None, lib: VpxLib | None = None) -> None:
        self.config = config or Vp8EncoderConfig()
        self._lib = lib or load_libvpx()
        self._ctx = VpxCodecCtx()
        self._open = False
        self._cfg = VpxEncCfgStorage()
        self._image = VpxImageStorage()
        self._target_bps = self.config.target_bps
        self._applied: tuple[int, tuple[int, int], tuple[int, int, int]] = (0, (0, 0), (0, 0, 0))
        self._applied_intra_pct = self.config.max_intra_bitrate_pct
        self._first_now_s: float | None = None
        self._last_pts: int | None = None
        self._vpx_pts = 0
        self._frames = 0
        self._nominal_ticks = max(1, round(VIDEO_CLOCK_HZ / self.config.fps))
        max_gap_ticks = round(VIDEO_CLOCK_HZ * self.config.max_gap_s)
        self._max_gap_ticks = max(self._nominal_ticks, max_gap_ticks)
        self._model = QuantizerSizeModel(
            self.config.quantizer_steps_per_halving, self.config.size_model_smoothing
        )
        self._key_model = QuantizerSizeModel(  # intra only: no reference term
            self.config.quantizer_steps_per_halving,
            self.config.size_model_smoothing,
            refine=0.0,
            coarsen=0.0,
        )
        self._budget = FrameBudget(self.config.budget_repay_frames, self.config.budget_max_debt_s)
        self._pinned_kbps = _kbps(self.config.width * self.config.height * 12 * self.config.fps)
        self._setup()

    # -- life cycle -------------------------------------------------------------------------

    def _setup(self) -> None:
        c, lib = self.config, self._lib
        lib.check(
            lib.cdll.vpx_codec_enc_config_default(lib.vp8_cx_iface, ctypes.byref(self._cfg), 0),
            "vpx_codec_enc_config_default",
        )
        head = self._cfg.head
        head.g_w, head.g_h = c.width, c.height
        head.g_threads = c.threads
        head.g_timebase.num, head.g_timebase.den = 1, VIDEO_CLOCK_HZ
        head.g_error_resilient = VPX_ERROR_RESILIENT_DEFAULT if c.error_resilient else 0
        head.g_pass = VPX_RC_ONE_PASS
        head.g_lag_in_frames = 0
        head.rc_dropframe_thresh = c.drop_frame_threshold_pct
        head.rc_resize_allowed = 0
        head.rc_end_usage = VPX_CBR
        head.rc_min_quantizer, head.rc_max_quantizer = c.min_quantizer, c.max_quantizer
        head.rc_undershoot_pct, head.rc_overshoot_pct = c.undershoot_pct, c.overshoot_pct
        head.rc_buf_sz = c.buffer_ms
        head.rc_buf_initial_sz = c.buffer_initial_ms
        head.rc_buf_optimal_sz = c.buffer_optimal_ms
        head.kf_mode = VPX_KF_DISABLED
        head.kf_min_dist = 0
        head.kf_max_dist = 0x7FFFFFFF
        head.rc_target_bitrate = _kbps(self._target_bps)
        self._applied = (
            head.rc_target_bitrate,
            (c.min_quantizer, c.max_quantizer),
            (c.buffer_ms, c.buffer_initial_ms, c.buffer_optimal_ms),
        )
        lib.check(
            lib.cdll.vpx_codec_enc_init_ver(
                ctypes.byref(self._ctx),
                lib.vp8_cx_iface,
                ctypes.byref(self._cfg),
                0,
                lib.encoder_abi_version,
            ),
            "vpx_codec_enc_init_ver",
            self._ctx,
        )
        self._open = True
        for control, value in (
            (VP8E_SET_CPUUSED, c.cpu_used),
            (VP8E_SET_STATIC_THRESHOLD, c.static_threshold),
            (VP8E_SET_NOISE_SENSITIVITY, c.noise_sensitivity),
            (VP8E_SET_TOKEN_PARTITIONS, 0),
            (VP8E_SET_MAX_INTRA_BITRATE_PCT, c.max_intra_bitrate_pct),
        ):
            name = CONTROL_NAMES.get(control, str(control))
            lib.check(lib.control_int(self._ctx, control, value), f"control {name}", self._ctx)

    def close(self) -> None:
        """Free libvpx's encoder (idempotent)."""
        if self._open:
            self._open = False
            self._lib.cdll.vpx_codec_destroy(ctypes.byref(self._ctx))

    def __enter__(self) -> Vp8Encoder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_open", False):
            self.close()

    # -- rate -------------------------------------------------------------------------------

    @property
    def target_bps(self) -> int:
        return self._target_bps

    @property
    def library_version(self) -> str:
        return self._lib.version

    def set_target_bps(self, bps: float) -> None:
        """Change the target rate in place (no keyframe); applied from the next frame."""
        if not math.isfinite(bps) or bps <= 0:
            raise ValueError(f"target rate {bps} bps: give a positive finite number")
        target_bps = int(min(max(bps, MIN_TARGET_BPS), MAX_TARGET_BPS))
        if target_bps != self._target_bps:
            self._budget.on_rate_change()
        self._target_bps = target_bps

    def _apply(self, kbps: int, q_range: tuple[int, int], pinned: bool = False) -> None:
        """Set libvpx's rate, quantizer range and buffer; `pinned`: we chose q ourselves.

        While we pin the quantizer (rc_min = rc_max = q) libvpx must not override it. It
        does once 150 inter frames are past: its one-pass CBR then floors the quantizer at
        a function of its own long-run average quantizer (active_best_quality =
        inter_minq[ni_av_qi]) without clipping that to rc_max_quantizer, and drops the floor
        only while its buffer is full (measured: asked 5, got 12-13, 0.78 of a 1 Mbit/s
        target). So pinned frames get a constant rate that no frame reaches, 12 bits per
        pixel (half libvpx's own ceiling, which follows its frame-rate estimate and would
        rescale the buffer), and a short buffer (PINNED_BUFFER_MS) that refills within two
        frames after an unpinned keyframe. Nothing else on libvpx's pinned path uses them.
        """
        c = self.config
        buffer_ms = (c.buffer_ms, c.buffer_initial_ms, c.buffer_optimal_ms)
        if pinned:
            kbps = self._pinned_kbps
            buffer_ms = PINNED_BUFFER_MS
        if (kbps, q_range, buffer_ms) == self._applied:
            return
        head = self._cfg.head
        head.rc_target_bitrate = kbps
        head.rc_min_quantizer, head.rc_max_quantizer = q_range
        head.rc_buf_sz, head.rc_buf_initial_sz, head.rc_buf_optimal_sz = buffer_ms
        self._lib.check(
            self._lib.cdll.vpx_codec_enc_config_set(
                ctypes.byref(self._ctx), ctypes.byref(self._cfg)
            ),
            "vpx_codec_enc_config_set",
            self._ctx,
        )
        self._applied = (kbps, q_range, buffer_ms)

    def _set_intra_pct(self, pct: int) -> None:
        if pct != self._applied_intra_pct:
            err = self._lib.control_int(self._ctx, VP8E_SET_MAX_INTRA_BITRATE_PCT, pct)
            self._lib.check(err, "control VP8E_SET_MAX_INTRA_BITRATE_PCT", self._ctx)
            self._applied_intra_pct = pct

    # -- encoding ---------------------------------------------------------------------------

    def encode(
        self,
        image: np.ndarray | av.VideoFrame,
        *,
        now_s: float | None = None,
        keyframe: bool = False,
        target_bytes: int | None = None,
        flags: int = 0,
    ) -> EncodedFrame | None:
        """Encode one frame; None only if libvpx dropped it (drop_frame_threshold_pct > 0).

        image: I420 uint8 array of shape (H*3/2, W), or an av.VideoFrame of size W x H.
        now_s: capture time in seconds on the caller's clock; frames counted at fps if None.
        keyframe: force a keyframe (the only way one is made after the first frame).
        target_bytes: size target for this frame (see module doc); None: the target rate.
        flags: extra VP8_EFLAG_* bits (reference control), passed to libvpx as they are.
        """
        if not self._open:
            raise RuntimeError("encoder is closed: create a new Vp8Encoder")
        i420 = self._as_i420(image)
        c = self.config
        pts = self._next_pts(now_s)
        gap = self._nominal_ticks if self._last_pts is None else pts - self._last_pts
        gap = min(gap, self._max_gap_ticks)  # after a long pause, budget one short gap
        force_key = keyframe or self._frames == 0
        per_frame = target_bytes is not None
        if target_bytes is not None:
            target_bytes = max(MIN_TARGET_BYTES, int(target_bytes))
        elif c.follow_rate_with == "quantizer" and not force_key:
            target_bytes = self._budget.next_target_bytes(self._target_bps, gap / VIDEO_CLOCK_HZ)

        q_range = (c.min_quantizer, c.max_quantizer)
        pinned = False
        if target_bytes is None:
            kbps = _kbps(self._target_bps)
            duration = gap
        else:
            kbps = _kbps(target_bytes * 8 * c.fps)
            duration = self._nominal_ticks
            mode = c.per_frame_mode if per_frame else "quantizer"
            model = self._key_model if force_key else self._model
            steer = mode == "quantizer" and (per_frame or not force_key)
            q = model.quantizer_for(target_bytes) if steer else None
            if q is not None:
                q = min(max(q, c.min_quantizer), c.max_quantizer)
                q_range, pinned = (q, q), True
        self._apply(kbps, q_range, pinned)
        self._set_intra_pct(100 if force_key and per_frame else c.max_intra_bitrate_pct)

        img = self._image
        wrapped = self._lib.cdll.vpx_img_wrap(
            ctypes.byref(img),
            VPX_IMG_FMT_I420,
            c.width,
            c.height,
            1,
            i420.ctypes.data_as(ctypes.c_void_p),
        )
        if not wrapped:
            raise VpxError("libvpx vpx_img_wrap failed for the input frame")
        if self._frames:
            self._vpx_pts += duration
        self._lib.check(
            self._lib.cdll.vpx_codec_encode(
                ctypes.byref(self._ctx),
                ctypes.byref(img),
                self._vpx_pts,
                duration,
                flags | (VPX_EFLAG_FORCE_KF if keyframe else 0),
                VPX_DL_REALTIME,
            ),
            "vpx_codec_encode",
            self._ctx,
        )
        del i420  # libvpx copied the picture into its lookahead during vpx_codec_encode
        self._last_pts = pts
        self._frames += 1
        chunks, is_key = self._drain()
        size = sum(len(chunk) for chunk in chunks)
        if not per_frame:
            self._budget.on_encoded(size, self._target_bps)
        if not chunks:
            return None
        err, q64 = self._lib.control_get_int(self._ctx, VP8E_GET_LAST_QUANTIZER_64)
        if err == 0 and is_key:
            self._key_model.observe(q64, size)
            self._model.on_reference(q64)
        elif err == 0:
            self._model.observe(q64, size)
        err, q = self._lib.control_get_int(self._ctx, VP8E_GET_LAST_QUANTIZER)  # 0..127
        return EncodedFrame(b"".join(chunks), is_key, pts, q if err == 0 else -1)

    def _drain(self) -> tuple[list[bytes], bool]:
        chunks: list[bytes] = []
        is_key = False
        iterator = ctypes.c_void_p(None)
        while True:
            pkt = self._lib.cdll.vpx_codec_get_cx_data(
                ctypes.byref(self._ctx), ctypes.byref(iterator)
            )
            if not pkt:
                return chunks, is_key
            if pkt.contents.kind == VPX_CODEC_CX_FRAME_PKT:
                frame = pkt.contents.frame
                chunks.append(ctypes.string_at(frame.buf, frame.sz))
                is_key = is_key or bool(frame.flags & VPX_FRAME_IS_KEY)

    def _next_pts(self, now_s: float | None) -> int:
        if now_s is None:
            return 0 if self._last_pts is None else self._last_pts + self._nominal_ticks
        if not math.isfinite(now_s):
            raise ValueError(f"now_s {now_s}: give a finite capture time in seconds")
        if self._first_now_s is None:
            self._first_now_s = now_s
        pts = round((now_s - self._first_now_s) * VIDEO_CLOCK_HZ)
        if self._last_pts is not None and pts <= self._last_pts:
            raise ValueError(
                f"now_s {now_s} is not after the previous frame's time: capture times must increase"
            )
        return pts

    def _as_i420(self, image: np.ndarray | av.VideoFrame) -> np.ndarray:
        c = self.config
        expected = (c.height * 3 // 2, c.width)
        if isinstance(image, av.VideoFrame):
            if (image.width, image.height) != (c.width, c.height):
                raise ValueError(
                    f"frame is {image.width}x{image.height} but the encoder is "
                    f"{c.width}x{c.height}: scale it or create an encoder of that size"
                )
            image = image.to_ndarray(format="yuv420p")
        if not isinstance(image, np.ndarray):
            raise ValueError(
                f"cannot encode a {type(image).__name__}: give an I420 numpy array or av.VideoFrame"
            )
        if image.shape != expected or image.dtype != np.uint8:
            raise ValueError(
                f"expected an I420 uint8 array of shape {expected} for {c.width}x{c.height}, got "
                f"shape {image.shape} dtype {image.dtype}: convert to yuv420p at that size"
            )
        return np.ascontiguousarray(image)


def _kbps(bps: float) -> int:
    return max(1, round(bps / 1000))
