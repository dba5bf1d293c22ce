"""Chromium honours our playout delay: the demo page receiving the Python peer's video on
loopback holds frames in its jitter buffer for less time with the extension than without."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from typing import Any

import pytest

from experiments.jitter_buffer import JitterBufferFigures, per_frame, read_jitter_buffer
from tests.signaling.support import REPO_ROOT, signaling_process

pytestmark = [pytest.mark.slow, pytest.mark.browser]
WARM_UP_S = 4.0  # start-up (first keyframe, rate ramp) left out of the window
WINDOW_S = 20.0
CALL_S = 34.0  # the peer's call: connection, warm-up, window and slack


def watch_python_peer(chromium: Any, playout_delay: bool) -> JitterBufferFigures:
    """The page waits in a room; our peer joins, offers and sends the test pattern."""
    room = f"playout-{uuid.uuid4().hex[:8]}"
    with signaling_process() as (_, url):
        page = chromium.new_context().new_page()
        page.goto(f"{url}/?room={room}&autojoin=1&stats=0")
        page.wait_for_function("window.callState.phase === 'waiting'", timeout=10_000)
        flags = [] if playout_delay else ["--no-playout-delay"]
        peer = subprocess.Popen(
            [sys.executable, "-m", "peer", "--signaling", url.replace("http", "ws") + "/ws",
             "--room", room, "--direction", "sendonly", "--host-candidates", "loopback",
             "--duration", str(CALL_S), *flags],
            cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            page.wait_for_function(
                "window.callState.connectionState === 'connected' "
                "&& window.callState.framesDecoded >= 20", timeout=30_000)
            time.sleep(WARM_UP_S)
            before = read_jitter_buffer(page)
            time.sleep(WINDOW_S)
            figures = per_frame(before, read_jitter_buffer(page))
        finally:
            peer.kill()
            peer.wait()
        page.context.close()
    print(f"playout delay {'0' if playout_delay else 'not sent'}: {figures.describe()}")
    return figures


def test_chromium_buffers_less_when_our_video_asks_for_playout_delay_zero(
        chromium: Any) -> None:
    without = watch_python_peer(chromium, playout_delay=False)
    with_extension = watch_python_peer(chromium, playout_delay=True)
    for figures in (without, with_extension):
        assert figures.frames > 10 * WINDOW_S  # the pattern's 30 fps, most of it decoded
    # Measured on loopback: 57 ms/frame without, 5 with (the target stays near 50 ms:
    # Chromium still computes it, but max = 0 releases each frame as soon as it is whole).
    assert with_extension.delay_ms < 0.5 * without.delay_ms
