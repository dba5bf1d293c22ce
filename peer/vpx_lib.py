"""Finding and binding libvpx's VP8 encoder through ctypes (no headers needed at run time).

Two places are tried, in order: the libvpx that ships inside the PyAV wheel
(``site-packages/av.libs/libvpx-*.so*``, libvpx 1.16 for av 18) and the system's
(``libvpx.so.N``, Debian's libvpx7 is 1.12). The first that loads, exports the encoder
API, answers the ABI probe and passes the layout check wins; if none does,
:class:`VpxUnavailable` says what was tried and what to install.

Structure layouts are the C ones from libvpx's public headers (vpx_encoder.h,
vpx_image.h). Only the leading fields of ``vpx_codec_enc_cfg_t`` (up to ``kf_max_dist``)
are declared; they have not moved since libvpx 1.4, while fields after them have come and
gone. The struct itself is kept in a much larger zeroed buffer, so whatever a newer
libvpx adds at the end has room. At load the layout is checked against the library's own
VP8 defaults (320x240, 1/30 time base, quantizer 4..63, ...), and the encoder ABI number
(checked in ``vpx_codec_enc_init_ver``) is found by probing from high to low: a wrong number
is refused before anything is read, the first accepted one opens a 320x240 default encoder
that is destroyed at once.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import glob
import importlib.util
import os
from collections.abc import Sequence
from dataclasses import dataclass

# vpx_codec_err_t
VPX_CODEC_OK = 0
VPX_CODEC_ABI_MISMATCH = 3
VPX_CODEC_INVALID_PARAM = 8

# vpx_img_fmt_t
VPX_IMG_FMT_I420 = 0x102

# Deadlines for vpx_codec_encode, in microseconds (1 = realtime).
VPX_DL_REALTIME = 1

# Per-frame flags (vpx_enc_frame_flags_t) for vpx_codec_encode.
VPX_EFLAG_FORCE_KF = 1 << 0
VP8_EFLAG_NO_REF_LAST = 1 << 16
VP8_EFLAG_NO_REF_GF = 1 << 17
VP8_EFLAG_NO_UPD_LAST = 1 << 18
VP8_EFLAG_FORCE_GF = 1 << 19
VP8_EFLAG_NO_UPD_ENTROPY = 1 << 20
VP8_EFLAG_NO_REF_ARF = 1 << 21
VP8_EFLAG_NO_UPD_GF = 1 << 22
VP8_EFLAG_NO_UPD_ARF = 1 << 23
VP8_EFLAG_FORCE_ARF = 1 << 24

# Output frame flags (vpx_codec_frame_flags_t).
VPX_FRAME_IS_KEY = 0x1
VPX_FRAME_IS_DROPPABLE = 0x2

# vpx_codec_cx_pkt_kind
VPX_CODEC_CX_FRAME_PKT = 0

# enum vpx_rc_mode, vpx_kf_mode, vpx_enc_pass; g_error_resilient flags
VPX_VBR, VPX_CBR, VPX_CQ = 0, 1, 2
VPX_KF_DISABLED, VPX_KF_AUTO = 0, 1
VPX_RC_ONE_PASS = 0
VPX_ERROR_RESILIENT_DEFAULT = 0x1

# enum vp8e_enc_control_id (vp8cx.h)
VP8E_SET_CPUUSED = 13
VP8E_SET_ENABLEAUTOALTREF = 14
VP8E_SET_NOISE_SENSITIVITY = 15
VP8E_SET_SHARPNESS = 16
VP8E_SET_STATIC_THRESHOLD = 17
VP8E_SET_TOKEN_PARTITIONS = 18
VP8E_GET_LAST_QUANTIZER = 19
VP8E_GET_LAST_QUANTIZER_64 = 20
VP8E_SET_MAX_INTRA_BITRATE_PCT = 26
VP8E_SET_FRAME_FLAGS = 27
VP8E_SET_SCREEN_CONTENT_MODE = 31
CONTROL_NAMES = {
    VP8E_SET_CPUUSED: "VP8E_SET_CPUUSED",
    VP8E_SET_ENABLEAUTOALTREF: "VP8E_SET_ENABLEAUTOALTREF",
    VP8E_SET_NOISE_SENSITIVITY: "VP8E_SET_NOISE_SENSITIVITY",
    VP8E_SET_SHARPNESS: "VP8E_SET_SHARPNESS",
    VP8E_SET_STATIC_THRESHOLD: "VP8E_SET_STATIC_THRESHOLD",
    VP8E_SET_TOKEN_PARTITIONS: "VP8E_SET_TOKEN_PARTITIONS",
    VP8E_GET_LAST_QUANTIZER: "VP8E_GET_LAST_QUANTIZER",
    VP8E_GET_LAST_QUANTIZER_64: "VP8E_GET_LAST_QUANTIZER_64",
    VP8E_SET_MAX_INTRA_BITRATE_PCT: "VP8E_SET_MAX_INTRA_BITRATE_PCT",
    VP8E_SET_FRAME_FLAGS: "VP8E_SET_FRAME_FLAGS",
    VP8E_SET_SCREEN_CONTENT_MODE: "VP8E_SET_SCREEN_CONTENT_MODE",
}

ABI_PROBE_MAX = 128
CFG_BUFFER_BYTES = 4096  # room for any libvpx's full vpx_codec_enc_cfg_t (504 bytes in 1.16)
IMG_BUFFER_BYTES = 512  # vpx_image_t is 136 bytes on 64-bit
CTX_BUFFER_BYTES = 512  # vpx_codec_ctx_t is 56 bytes on 64-bit


class VpxUnavailable(RuntimeError):
    """No usable libvpx could be loaded."""


class VpxError(RuntimeError):
    """libvpx returned an error; the message carries its error text and detail."""


class VpxRational(ctypes.Structure):
    _fields_ = [("num", ctypes.c_int), ("den", ctypes.c_int)]


class VpxFixedBuf(ctypes.Structure):
    _fields_ = [("buf", ctypes.c_void_p), ("sz", ctypes.c_size_t)]


class VpxEncCfgHead(ctypes.Structure):
    """The leading, long-stable fields of vpx_codec_enc_cfg_t."""

    _fields_ = [
        ("g_usage", ctypes.c_uint),
        ("g_threads", ctypes.c_uint),
        ("g_profile", ctypes.c_uint),
        ("g_w", ctypes.c_uint),
        ("g_h", ctypes.c_uint),
        ("g_bit_depth", ctypes.c_int),
        ("g_input_bit_depth", ctypes.c_uint),
        ("g_timebase", VpxRational),
        ("g_error_resilient", ctypes.c_uint),
        ("g_pass", ctypes.c_int),
        ("g_lag_in_frames", ctypes.c_uint),
        ("rc_dropframe_thresh", ctypes.c_uint),
        ("rc_resize_allowed", ctypes.c_uint),
        ("rc_scaled_width", ctypes.c_uint),
        ("rc_scaled_height", ctypes.c_uint),
        ("rc_resize_up_thresh", ctypes.c_uint),
        ("rc_resize_down_thresh", ctypes.c_uint),
        ("rc_end_usage", ctypes.c_int),
        ("rc_twopass_stats_in", VpxFixedBuf),
        ("rc_firstpass_mb_stats_in", VpxFixedBuf),
        ("rc_target_bitrate", ctypes.c_uint),
        ("rc_min_quantizer", ctypes.c_uint),
        ("rc_max_quantizer", ctypes.c_uint),
        ("rc_undershoot_pct", ctypes.c_uint),
        ("rc_overshoot_pct", ctypes.c_uint),
        ("rc_buf_sz", ctypes.c_uint),
        ("rc_buf_initial_sz", ctypes.c_uint),
        ("rc_buf_optimal_sz", ctypes.c_uint),
        ("rc_2pass_vbr_bias_pct", ctypes.c_uint),
        ("rc_2pass_vbr_minsection_pct", ctypes.c_uint),
        ("rc_2pass_vbr_maxsection_pct", ctypes.c_uint),
        ("rc_2pass_vbr_corpus_complexity", ctypes.c_uint),
        ("kf_mode", ctypes.c_int),
        ("kf_min_dist", ctypes.c_uint),
        ("kf_max_dist", ctypes.c_uint),
    ]


class VpxEncCfgStorage(ctypes.Union):
    """A vpx_codec_enc_cfg_t with its known head and room for the rest."""

    _fields_ = [("head", VpxEncCfgHead), ("raw", ctypes.c_uint8 * CFG_BUFFER_BYTES)]


class VpxImage(ctypes.Structure):
    """vpx_image_t (vpx_image.h, VPX_IMAGE_ABI_VERSION 5)."""

    _fields_ = [
        ("fmt", ctypes.c_int),
        ("cs", ctypes.c_int),
        ("range", ctypes.c_int),
        ("w", ctypes.c_uint),
        ("h", ctypes.c_uint),
        ("bit_depth", ctypes.c_uint),
        ("d_w", ctypes.c_uint),
        ("d_h", ctypes.c_uint),
        ("r_w", ctypes.c_uint),
        ("r_h", ctypes.c_uint),
        ("x_chroma_shift", ctypes.c_uint),
        ("y_chroma_shift", ctypes.c_uint),
        ("planes", ctypes.c_void_p * 4),
        ("stride", ctypes.c_int * 4),
        ("bps", ctypes.c_int),
        ("user_priv", ctypes.c_void_p),
        ("img_data", ctypes.c_void_p),
        ("img_data_owner", ctypes.c_int),
        ("self_allocd", ctypes.c_int),
        ("fb_priv", ctypes.c_void_p),
    ]


class VpxImageStorage(ctypes.Union):
    _fields_ = [("img", VpxImage), ("raw", ctypes.c_uint8 * IMG_BUFFER_BYTES)]


class VpxFramePkt(ctypes.Structure):
    """The ``frame`` member of vpx_codec_cx_pkt_t's data union."""

    _fields_ = [
        ("buf", ctypes.c_void_p),
        ("sz", ctypes.c_size_t),
        ("pts", ctypes.c_int64),
        ("duration", ctypes.c_ulong),
        ("flags", ctypes.c_uint32),
        ("partition_id", ctypes.c_int),
    ]


class VpxCxPkt(ctypes.Structure):
    """vpx_codec_cx_pkt_t: the kind, then a 128-byte union (only the frame view declared)."""

    _fields_ = [("kind", ctypes.c_int), ("frame", VpxFramePkt)]


class VpxCodecCtx(ctypes.Structure):
    """vpx_codec_ctx_t kept opaque; libvpx fills it in vpx_codec_enc_init_ver."""

    _fields_ = [("raw", ctypes.c_uint8 * CTX_BUFFER_BYTES)]


@dataclass(frozen=True)
class VpxLib:
    """A loaded libvpx with its VP8 encoder interface and the ABI number it expects."""

    cdll: ctypes.CDLL
    path: str
    version: str
    encoder_abi_version: int
    vp8_cx_iface: int

    def error_text(self, ctx: VpxCodecCtx) -> str:
        message = self.cdll.vpx_codec_error(ctypes.byref(ctx))
        detail = self.cdll.vpx_codec_error_detail(ctypes.byref(ctx))
        text = message.decode(errors="replace") if message else "unknown error"
        if detail:
            text += f" ({detail.decode(errors='replace')})"
        return text

    def check(self, err: int, what: str, ctx: VpxCodecCtx | None = None) -> None:
        """Raise VpxError for a non-zero vpx_codec_err_t returned by `what`."""
        if err == VPX_CODEC_OK:
            return
        if ctx is not None:
            text = self.error_text(ctx)
        else:
            raw = self.cdll.vpx_codec_err_to_string(err)
            text = raw.decode(errors="replace") if raw else f"error {err}"
        raise VpxError(f"libvpx {what} failed: {text}")

    def control_int(self, ctx: VpxCodecCtx, control_id: int, value: int) -> int:
        """vpx_codec_control_(ctx, id, int) — variadic, so the int is passed as c_int."""
        return int(self.cdll.vpx_codec_control_(ctypes.byref(ctx), control_id, ctypes.c_int(value)))

    def control_get_int(self, ctx: VpxCodecCtx, control_id: int) -> tuple[int, int]:
        out = ctypes.c_int(0)
        err = self.cdll.vpx_codec_control_(ctypes.byref(ctx), control_id, ctypes.byref(out))
        return int(err), out.value


def _declare(cdll: ctypes.CDLL) -> None:
    """Give every function we call its C signature (the variadic control gets none)."""
    p, i, u, c64, ul, lng = (
        ctypes.c_void_p,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.c_int64,
        ctypes.c_ulong,
        ctypes.c_long,
    )
    signatures: dict[str, tuple[object, list[object]]] = {
        "vpx_codec_version_str": (ctypes.c_char_p, []),
        "vpx_codec_vp8_cx": (p, []),
        "vpx_codec_enc_config_default": (i, [p, p, u]),
        "vpx_codec_enc_init_ver": (i, [p, p, p, lng, i]),
        "vpx_codec_enc_config_set": (i, [p, p]),
        "vpx_codec_encode": (i, [p, p, c64, ul, lng, ul]),
        "vpx_codec_get_cx_data": (ctypes.POINTER(VpxCxPkt), [p, p]),
        "vpx_codec_destroy": (i, [p]),
        "vpx_codec_error": (ctypes.c_char_p, [p]),
        "vpx_codec_error_detail": (ctypes.c_char_p, [p]),
        "vpx_codec_err_to_string": (ctypes.c_char_p, [i]),
        "vpx_img_wrap": (p, [p, i, u, u, u, p]),
    }
    for name, (restype, argtypes) in signatures.items():
        function = getattr(cdll, name)  # AttributeError if the library lacks it
        function.restype = restype
        function.argtypes = argtypes
    cdll.vpx_codec_control_.restype = i


def _probe_encoder_abi(cdll: ctypes.CDLL, iface: int) -> int | None:
    """The ABI number this libvpx's vpx_codec_enc_init_ver accepts.

    A wrong number is refused with VPX_CODEC_ABI_MISMATCH before anything else happens; the
    right one opens a small default encoder, which is destroyed at once. Some builds (1.12)
    accept every number up to their own, others (1.16) only their own: the highest accepted
    one is the library's own.
    """
    storage = VpxEncCfgStorage()
    if cdll.vpx_codec_enc_config_default(iface, ctypes.byref(storage), 0) != VPX_CODEC_OK:
        return None
    for version in range(ABI_PROBE_MAX, 0, -1):
        ctx = VpxCodecCtx()
        err = cdll.vpx_codec_enc_init_ver(
            ctypes.byref(ctx), iface, ctypes.byref(storage), 0, version
        )
        if err == VPX_CODEC_ABI_MISMATCH:
            continue
        if err == VPX_CODEC_OK:
            cdll.vpx_codec_destroy(ctypes.byref(ctx))
            return version
        return None
    return None


def _layout_problem(cdll: ctypes.CDLL, iface: int) -> str | None:
    """Compare our struct layout with libvpx's VP8 defaults; a text if they disagree."""
    storage = VpxEncCfgStorage()
    err = cdll.vpx_codec_enc_config_default(iface, ctypes.byref(storage), 0)
    if err != VPX_CODEC_OK:
        return f"vpx_codec_enc_config_default returned {err}"
    head = storage.head
    seen = (
        head.g_w,
        head.g_h,
        head.g_timebase.num,
        head.g_timebase.den,
        head.rc_min_quantizer,
        head.rc_max_quantizer,
        head.kf_mode,
    )
    if seen != (320, 240, 1, 30, 4, 63, VPX_KF_AUTO) or head.rc_target_bitrate == 0:
        return f"default config does not match the known layout (read {seen})"
    image_storage = VpxImageStorage()
    data = (ctypes.c_uint8 * (16 * 16 * 3 // 2))()
    cdll.vpx_img_wrap(ctypes.byref(image_storage), VPX_IMG_FMT_I420, 16, 16, 1, data)
    img = image_storage.img
    base = ctypes.addressof(data)
    if (img.d_w, img.d_h, img.planes[0], img.planes[1], img.stride[0]) != (
        16,
        16,
        base,
        base + 256,
        16,
    ):
        return "vpx_image_t layout does not match"
    return None


def candidate_paths() -> list[str]:
    """Where libvpx may be, best first: PyAV's bundled copy, then the system's."""
    paths: list[str] = []
    spec = importlib.util.find_spec("av")
    if spec is not None and spec.origin:
        site = os.path.dirname(os.path.dirname(spec.origin))
        paths += sorted(glob.glob(os.path.join(site, "av.libs", "libvpx*.so*")))
    found = ctypes.util.find_library("vpx")
    if found:
        paths.append(found)
    paths += [f"libvpx.so.{major}" for major in (12, 11, 9, 8, 7, 6)]
    unique: list[str] = []
    for path in paths:
        if path not in unique:
            unique.append(path)
    return unique


def open_libvpx(path: str) -> VpxLib:
    """Load and check one libvpx; VpxUnavailable (one line) if it is not usable."""
    try:
        cdll = ctypes.CDLL(path)
        _declare(cdll)
    except (OSError, AttributeError) as exc:
        raise VpxUnavailable(f"{path}: {exc}") from exc
    iface = cdll.vpx_codec_vp8_cx()
    if not iface:
        raise VpxUnavailable(f"{path}: built without the VP8 encoder")
    version = cdll.vpx_codec_version_str().decode(errors="replace")
    abi = _probe_encoder_abi(cdll, iface)
    if abi is None:
        raise VpxUnavailable(f"{path} ({version}): encoder ABI probe found no accepted version")
    problem = _layout_problem(cdll, iface)
    if problem is not None:
        raise VpxUnavailable(f"{path} ({version}): {problem}")
    return VpxLib(cdll, path, version, abi, iface)


def load_libvpx(paths: Sequence[str] | None = None) -> VpxLib:
    """The first usable libvpx among `paths` (default: candidate_paths()), cached."""
    return _load_cached(tuple(candidate_paths() if paths is None else paths))


@functools.lru_cache(maxsize=8)
def _load_cached(paths: tuple[str, ...]) -> VpxLib:
    reasons: list[str] = []
    for path in paths:
        try:
            return open_libvpx(path)
        except VpxUnavailable as exc:
            reasons.append(str(exc))
    tried = "; ".join(reasons) if reasons else "no candidate paths"
    raise VpxUnavailable(
        f"no usable libvpx found (tried: {tried}); install the PyAV wheel (pip install av) "
        "or Debian's libvpx7 (apt-get install libvpx7)"
    )
