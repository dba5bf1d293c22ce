"""Sound both ways between the demo page (headless Chromium, its fake microphone's beep) and
the Python peer (the marked tone), whichever side offers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.signaling.support import REPO_ROOT, signaling_process
from tests.signaling.test_browser import wait_decoding, wait_for_members

pytestmark = pytest.mark.browser
CALL_S = 8


@pytest.mark.parametrize("page_first", [True, False], ids=["page-waits", "page-offers"])
def test_sound_flows_both_ways_between_page_and_peer(chromium: Any, tmp_path: Path,
                                                     page_first: bool) -> None:
    metrics = tmp_path / "peer.jsonl"
    room = f"audio-{int(page_first)}"
    with signaling_process() as (_, url):
        page = chromium.new_context().new_page()
        query = f"{url}/?room={room}&autojoin=1&stats_ms=250&audio=1"
        peer = subprocess.Popen(
            [sys.executable, "-m", "peer", "--signaling", url.replace("http", "ws") + "/ws",
             "--room", room, "--audio", "tone", "--duration", str(CALL_S),
             "--metrics", str(metrics), "--no-quality"],
            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            if page_first:
                page.goto(query)
                page.wait_for_function("window.callState.phase === 'waiting'", timeout=10_000)
            else:
                wait_for_members(url, 1)
                page.goto(query)
            wait_decoding(page)
            page.wait_for_timeout(3000)
            stats = page.evaluate("window.callStats[window.callStats.length - 1]")
            playing = page.evaluate("window.callState.connectionState")
            output, _ = peer.communicate(timeout=60)
        finally:
            if peer.poll() is None:
                peer.kill()
                peer.wait()
    assert peer.returncode == 0, output[-2000:]
    assert playing == "connected"
    # The page heard the tone (50 packets a second) and sent its microphone's beep.
    assert stats["audioPacketsIn"] >= 50 and stats["audioSamplesIn"] > 48_000
    assert stats["audioPacketsOut"] >= 50
    summary = json.loads(metrics.read_text().splitlines()[-1])
    assert summary["type"] == "summary"
    assert summary["audio_frames_received"] >= 100  # the beep reached the peer
    assert summary["sent"]["audio_frames_sent"] >= 100
