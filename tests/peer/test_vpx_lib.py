"""Finding, checking and binding libvpx at run time."""

from __future__ import annotations

import ctypes.util

import pytest

from peer.testpattern import render_i420
from peer.vp8_encoder import Vp8Encoder
from peer.vpx_lib import (
    VpxCodecCtx,
    VpxError,
    VpxUnavailable,
    candidate_paths,
    load_libvpx,
    open_libvpx,
)


def test_pyav_bundled_libvpx_is_found_first_and_checked() -> None:
    paths = candidate_paths()
    assert "av.libs" in paths[0]
    lib = load_libvpx()
    assert lib.path == paths[0]
    assert lib.version.startswith("v1.")
    assert lib.encoder_abi_version > 0 and lib.vp8_cx_iface
    assert load_libvpx() is lib  # cached


def test_system_libvpx_also_works_when_present() -> None:
    try:
        lib = open_libvpx("libvpx.so.7")
    except VpxUnavailable:
        pytest.skip("Debian's libvpx7 is not installed")
    assert lib.version.startswith("v1.")
    with Vp8Encoder(lib=lib) as encoder:
        out = [encoder.encode(render_i420(n)) for n in range(6)]
    assert [frame.keyframe for frame in out if frame is not None] == [True] + [False] * 5


def test_missing_library_is_a_one_line_vpx_unavailable() -> None:
    with pytest.raises(VpxUnavailable) as excinfo:
        load_libvpx(["/nonexistent/libvpx.so.99"])
    message = str(excinfo.value)
    assert "\n" not in message and "libvpx.so.99" in message and "install" in message


def test_a_library_without_the_encoder_api_is_refused() -> None:
    libc = ctypes.util.find_library("c")
    assert libc is not None
    with pytest.raises(VpxUnavailable, match="vpx_codec"):
        open_libvpx(libc)


def test_check_turns_error_codes_into_vpx_error_with_libvpx_text() -> None:
    lib = load_libvpx()
    lib.check(0, "nothing")
    with pytest.raises(VpxError, match="Invalid parameter"):
        lib.check(8, "vpx_codec_encode")  # VPX_CODEC_INVALID_PARAM, no context
    with pytest.raises(VpxError, match="vpx_codec_encode"):
        lib.check(lib.cdll.vpx_codec_encode(ctypes.byref(VpxCodecCtx()), None, 0, 1, 0, 1),
                  "vpx_codec_encode")  # fmt: skip
