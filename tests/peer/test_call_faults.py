"""A call outlives its signaling server; signals still leave a complete metrics file."""

import json
import signal
import socket
import subprocess
import time
from pathlib import Path

from experiments.local_call import read_summary
from experiments.processes import child_env, python_command, start_service, stop_process


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_signaling_on(port: int):  # type: ignore[no-untyped-def]
    return start_service("signaling", python_command("signaling", "--port", str(port)),
                         ready=r"signaling on (ws://[^\s,]+)")


def start_peer(url: str, metrics: Path, duration_s: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        python_command("peer", "--signaling", url, "--room", "r", "--host-candidates",
                       "loopback", "--duration", str(duration_s), "--metrics", str(metrics)),
        env=child_env(), stderr=subprocess.PIPE, text=True)


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def wait_for_frames(path: Path, count: int, timeout_s: float = 40.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if sum(1 for line in lines(path) if line["type"] == "shown") >= count:
            return
        time.sleep(0.2)
    raise AssertionError(f"fewer than {count} frames shown in {path}")


def test_media_flows_while_signaling_restarts_and_peers_rejoin(tmp_path: Path) -> None:
    port = free_port()
    server = start_signaling_on(port)
    url = server.address
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    peers = [start_peer(url, a, 14), start_peer(url, b, 14)]
    try:
        wait_for_frames(a, 30)
        server.process.kill()
        killed_at = time.time()
        server.process.wait()
        time.sleep(2.0)
        server = start_signaling_on(port)
        restarted_at = time.time()
        for peer in peers:
            _, stderr = peer.communicate(timeout=60)
            assert peer.returncode == 0, stderr
            assert "reconnected to signaling" in stderr
    finally:
        stop_process(server.process)
        for peer in peers:
            stop_process(peer)
    for path in (a, b):
        shown_during_outage = [line for line in lines(path) if line["type"] == "shown"
                               and killed_at < line["shown_at"] < restarted_at]
        assert len(shown_during_outage) > 20
        assert any(line.get("event") == "signaling-reconnected" for line in lines(path))
        summary = read_summary(path)
        assert summary is not None and summary["ok"]


def test_sigterm_still_writes_the_summary(tmp_path: Path) -> None:
    server = start_signaling_on(0)
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    peers = [start_peer(server.address, a, 60), start_peer(server.address, b, 60)]
    try:
        wait_for_frames(a, 30)
        peers[0].send_signal(signal.SIGTERM)
        peers[0].communicate(timeout=30)
        peers[1].communicate(timeout=30)
    finally:
        stop_process(server.process)
        for peer in peers:
            stop_process(peer)
    assert peers[0].returncode == 0
    summary = read_summary(a)
    assert summary is not None and "SIGTERM" in summary["ended"]
    assert summary["frames_shown"] >= 30
    other = read_summary(b)
    assert other is not None and other["ended"] == "the other side hung up"
