"""The demo page in headless Chromium: two pages call each other; a page calls the Python peer."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.signaling.support import REPO_ROOT, signaling_process

pytestmark = pytest.mark.browser
CONNECT_TIMEOUT_MS = 30_000
FRAMES_WANTED = 20


def wait_decoding(page: Any, frames: int = FRAMES_WANTED) -> dict[str, Any]:
    page.wait_for_function(
        f"window.callState && window.callState.connectionState === 'connected' "
        f"&& window.callState.framesDecoded >= {frames}",
        timeout=CONNECT_TIMEOUT_MS)
    state: dict[str, Any] = page.evaluate("window.callState")
    return state


def test_two_pages_in_one_room_connect_and_decode_both_ways(chromium: Any) -> None:
    with signaling_process() as (_, url):
        context = chromium.new_context()
        first, second = context.new_page(), context.new_page()
        first.goto(f"{url}/?room=browsers&autojoin=1&stats_ms=250")
        first.wait_for_function("window.callState.phase === 'waiting'", timeout=10_000)
        second.goto(f"{url}/?room=browsers&autojoin=1&stats_ms=250")
        states = [wait_decoding(page) for page in (first, second)]
        assert states[0]["role"] == "answerer" and states[1]["role"] == "offerer"
        assert {states[0]["peer"], states[1]["peer"]} == {states[0]["id"], states[1]["id"]}
        for page in (first, second):
            assert page.evaluate("document.querySelector('#remote').srcObject !== null")
            assert page.evaluate("document.querySelector('#local').srcObject !== null")
            stats = page.evaluate("window.callStats[window.callStats.length - 1]")
            assert stats["width"] > 0 and stats["inKbps"] > 0
        second.click("#hangup")
        first.wait_for_function("window.callState.phase === 'waiting'", timeout=10_000)
        assert second.evaluate("window.callState.phase") == "ended"
        context.close()


def peer_ready() -> bool:
    if not (REPO_ROOT / "peer" / "__main__.py").is_file():
        return False
    result = subprocess.run([sys.executable, "-m", "peer", "--help"], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=60)
    return result.returncode == 0


@pytest.mark.parametrize("page_first", [True, False], ids=["page-waits", "page-offers"])
def test_page_and_python_peer_decode_both_ways(chromium: Any, tmp_path: Path,
                                               page_first: bool) -> None:
    """Page first: the peer offers with its candidates in the SDP. Peer first: the page
    offers and trickles its candidates to aiortc as "candidate" messages."""
    if not peer_ready():
        pytest.skip("python -m peer --help does not work yet")
    metrics = tmp_path / "peer.jsonl"
    room = f"mixed-{int(page_first)}"
    with signaling_process() as (_, url):
        page = chromium.new_context().new_page()
        peer = subprocess.Popen(
            [sys.executable, "-m", "peer", "--signaling", url.replace("http", "ws") + "/ws",
             "--room", room, "--source", "testpattern", "--sink", "null",
             "--duration", "8", "--metrics", str(metrics)],
            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            if page_first:
                page.goto(f"{url}/?room={room}&autojoin=1&stats_ms=250")
                page.wait_for_function("window.callState.phase === 'waiting'", timeout=10_000)
            else:
                wait_for_members(url, 1)
                page.goto(f"{url}/?room={room}&autojoin=1&stats_ms=250")
            state = wait_decoding(page)
            assert state["role"] == ("answerer" if page_first else "offerer")
            output, _ = peer.communicate(timeout=60)
        finally:
            if peer.poll() is None:
                peer.kill()
                peer.wait()
        assert peer.returncode == 0, output[-2000:]
        records = [json.loads(line) for line in metrics.read_text().splitlines() if line]
        shown = [r for r in records if r.get("type") == "shown"]
        assert len(shown) >= FRAMES_WANTED, f"the peer showed {len(shown)} frames"
        assert records[-1]["type"] == "summary"


def wait_for_members(url: str, count: int, timeout_s: float = 30.0) -> None:
    """Poll /healthz until `count` sockets are connected (the peer has arrived)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with urllib.request.urlopen(url + "/healthz", timeout=5) as response:
            if json.loads(response.read())["rooms"] >= count:
                return
        time.sleep(0.1)
    raise AssertionError("the Python peer did not join in time")


def netem_ready() -> bool:
    if not (REPO_ROOT / "netem" / "__main__.py").is_file():
        return False
    result = subprocess.run([sys.executable, "-m", "netem", "--help"], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=60)
    return result.returncode == 0


TRACE_12_MBPS = Path("/work/shared/traces/12mbps.trace")


def test_two_pages_call_through_the_turn_relay_with_relay_only(chromium: Any) -> None:
    """ice=, ice_user= and relay=1: the only candidates are the netem TURN server's."""
    if not netem_ready() or not TRACE_12_MBPS.is_file():
        pytest.skip("python -m netem or the 12mbps trace is not available")
    from tests.signaling.support import free_port

    turn_port = free_port()
    turn = subprocess.Popen(
        [sys.executable, "-m", "netem", "--listen", f"127.0.0.1:{turn_port}",
         "--up", str(TRACE_12_MBPS), "--down", str(TRACE_12_MBPS), "--user", "u:p"],
        cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        with signaling_process() as (_, url):
            query = (f"room=turn&autojoin=1&stats_ms=250&relay=1"
                     f"&ice=turn:127.0.0.1:{turn_port}&ice_user=u:p")
            context = chromium.new_context()
            first, second = context.new_page(), context.new_page()
            first.goto(f"{url}/?{query}")
            first.wait_for_function("window.callState.phase === 'waiting'", timeout=10_000)
            second.goto(f"{url}/?{query}")
            for page in (first, second):
                wait_decoding(page)
                kinds = page.evaluate("""async () => {
                    const pc = window.callControl.peerConnection();
                    const kinds = [];
                    (await pc.getStats()).forEach((r) => {
                        if (r.type === 'local-candidate') kinds.push(r.candidateType);
                    });
                    return kinds;
                }""")
                assert kinds and set(kinds) == {"relay"}, kinds
            context.close()
    finally:
        turn.terminate()
        turn.wait(10)


def test_two_pages_on_two_servers_sharing_rooms_through_redis(chromium: Any) -> None:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server not installed (apt-get install -y redis-server)")
    pytest.importorskip("redis", reason="the redis package is not installed")
    from tests.signaling.support import redis_server

    with redis_server() as redis_url, signaling_process("--redis", redis_url) as (_, url_a), \
            signaling_process("--redis", redis_url) as (_, url_b):
        context = chromium.new_context()
        first, second = context.new_page(), context.new_page()
        first.goto(f"{url_a}/?room=scaled&autojoin=1&stats_ms=250")
        first.wait_for_function("window.callState.phase === 'waiting'", timeout=10_000)
        second.goto(f"{url_b}/?room=scaled&autojoin=1&stats_ms=250")
        for page in (first, second):
            wait_decoding(page)
        context.close()
