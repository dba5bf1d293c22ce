"""The page's live "what you see is N ms old": from the stamp of a Python peer's pattern, and
"age unknown" (never zero) for a camera's picture, which carries no stamp."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.signaling.support import REPO_ROOT, signaling_process

pytestmark = pytest.mark.browser
CONNECT_TIMEOUT_MS = 40_000
AGE_TEXT = re.compile(r"^what you see is (\d+) ms old$")


def test_the_page_shows_how_old_the_python_peers_frame_is(chromium: Any, tmp_path: Path
                                                          ) -> None:
    with signaling_process() as (_, url):
        page = chromium.new_context(viewport={"width": 1000, "height": 620}).new_page()
        page.goto(f"{url}/?room=age&autojoin=1&stats_ms=500")
        page.wait_for_function("window.callState.phase === 'waiting'", timeout=10_000)
        peer = subprocess.Popen(
            [sys.executable, "-m", "peer", "--signaling", url.replace("http", "ws") + "/ws",
             "--room", "age", "--source", "testpattern", "--sink", "null", "--duration", "12",
             "--host-candidates", "loopback"],
            cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            page.wait_for_function(
                "/^what you see is \\d+ ms old$/.test(document.getElementById('age').textContent)",
                timeout=CONNECT_TIMEOUT_MS)
            page.wait_for_timeout(2000)  # a few seconds of call, so the picture has moved on
            text = page.inner_text("#age")
            shot = Path(os.environ.get("FRAME_AGE_SCREENSHOT", tmp_path / "age.png"))
            page.screenshot(path=str(shot))
            age = page.evaluate("window.frameAge")
        finally:
            peer.terminate()
            peer.wait(15)
    match = AGE_TEXT.match(text)
    assert match, text
    assert 0 < int(match.group(1)) < 2000  # loopback, no emulated link: a real, small age
    assert age["stamped"] > 20 and age["ageMs"] is not None
    assert age["log"] == []  # nothing is kept unless stamps=1 asks for it
    assert shot.stat().st_size > 10_000


def test_a_camera_picture_has_unknown_age_not_zero(chromium: Any) -> None:
    with signaling_process() as (_, url):
        context = chromium.new_context()
        first, second = context.new_page(), context.new_page()
        first.goto(f"{url}/?room=camera&autojoin=1&stamps=1")
        first.wait_for_function("window.callState.phase === 'waiting'", timeout=10_000)
        second.goto(f"{url}/?room=camera&autojoin=1")
        first.wait_for_function("window.frameAge.log.length >= 20", timeout=CONNECT_TIMEOUT_MS)
        first.wait_for_timeout(600)
        text = first.inner_text("#age")
        age = first.evaluate("window.frameAge")
        context.close()
    assert text == "age unknown"
    assert age["ageMs"] is None and age["stamped"] == 0
    assert all(r["id"] is None and r["ageMs"] is None for r in age["log"])
