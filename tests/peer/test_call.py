"""Whole calls between real `python -m peer` processes through the real signaling server."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from experiments.local_call import read_summary, run_local_call
from experiments.processes import PROJECT_ROOT, child_env, python_command, running, start_signaling


def shown_lines(path: Path) -> list[dict]:
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    return [line for line in lines if line["type"] == "shown"]


def test_ten_second_call_measures_every_frame(tmp_path: Path) -> None:
    outcomes = run_local_call(tmp_path, duration_s=10.0)
    for outcome in outcomes:
        assert outcome.exit_code == 0, outcome.stderr
        summary = outcome.summary
        assert summary is not None and summary["ok"]
        assert summary["frames_shown"] >= 150
        shown = shown_lines(outcome.metrics_path)
        assert len(shown) == summary["frames_shown"]
        assert all(line["frame_id"] is not None and line["delay_ms"] > 0 for line in shown)
        assert 0 < summary["delay_ms_p50"] <= summary["delay_ms_p95"] < 1000
        assert summary["ssim_db_mean"] > 5
        # Every sender counter is reported, zeros included (a restart sums them over sessions).
        sent_keys = {"frames_encoded", "retransmissions_refused", "feedback_sent"}
        assert sent_keys <= summary["sent"].keys()
        # The rate log says what the rate comes from (ours: GCC's parts, share, link rate).
        lines = [json.loads(line) for line in outcome.metrics_path.read_text().splitlines()]
        states = [line["state"] for line in lines if line["type"] == "rate"]
        keys = {"usage", "probe", "delay_kbps", "loss_kbps", "share", "link_kbps"}
        assert states and keys <= states[-1].keys()
        assert {state["usage"] for state in states} <= {"normal", "overusing", "underusing"}


def peer_command(url: str, room: str, *extra: str) -> list[str]:
    return python_command("peer", "--signaling", url, "--room", room,
                          "--host-candidates", "loopback", *extra)


def test_unreachable_signaling_is_one_line_and_exit_1() -> None:
    result = subprocess.run(peer_command("ws://127.0.0.1:9/ws", "r"), capture_output=True,
                            text=True, env=child_env(), timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "cannot reach signaling server" in result.stderr


def test_unknown_flag_is_a_usage_error() -> None:
    result = subprocess.run(python_command("peer", "--signaling", "ws://x/ws", "--room", "r",
                                           "--frobnicate"), capture_output=True, text=True,
                            env=child_env(), timeout=60)
    assert result.returncode == 2 and "unrecognized arguments: --frobnicate" in result.stderr


def test_full_room_is_refused_and_the_server_keeps_serving(tmp_path: Path) -> None:
    import asyncio

    signaling = start_signaling()
    with running(signaling):
        async def occupy_and_try() -> subprocess.CompletedProcess[str]:
            async with aiohttp.ClientSession() as session:
                sockets = [await session.ws_connect(signaling.address) for _ in range(2)]
                for ws in sockets:
                    await ws.send_json({"type": "join", "room": "busy"})
                    assert (await ws.receive_json())["type"] == "joined"
                process = await asyncio.create_subprocess_exec(
                    *peer_command(signaling.address, "busy"), env=child_env(),
                    stderr=asyncio.subprocess.PIPE)
                _, stderr = await asyncio.wait_for(process.communicate(), 60)
                return subprocess.CompletedProcess([], process.returncode or 0, "",
                                                   stderr.decode())

        result = asyncio.run(occupy_and_try())
        assert result.returncode == 1
        assert "is full" in result.stderr
        # another room on the same server still works
        outcomes = []
        for name in ("x", "y"):
            metrics = tmp_path / f"{name}.jsonl"
            outcomes.append((subprocess.Popen(
                peer_command(signaling.address, "free", "--duration", "3", "--metrics",
                             str(metrics)), env=child_env(), stderr=subprocess.DEVNULL), metrics))
        for process, metrics in outcomes:
            assert process.wait(timeout=60) == 0
            assert (read_summary(metrics) or {}).get("frames_shown", 0) > 30


def test_peer_killed_mid_call_ends_the_other_cleanly(tmp_path: Path) -> None:
    signaling = start_signaling()
    with running(signaling):
        survivor_metrics = tmp_path / "survivor.jsonl"
        survivor = subprocess.Popen(
            peer_command(signaling.address, "r", "--duration", "60", "--metrics",
                         str(survivor_metrics)), env=child_env(), stderr=subprocess.PIPE, text=True)
        victim = subprocess.Popen(peer_command(signaling.address, "r", "--duration", "60"),
                                  env=child_env(), stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:  # wait until frames are being shown
            if survivor_metrics.exists() and len(shown_lines(survivor_metrics)) > 30:
                break
            time.sleep(0.2)
        victim.kill()
        _, stderr = survivor.communicate(timeout=30)
        assert survivor.returncode == 0, stderr
        summary = read_summary(survivor_metrics)
        assert summary is not None and summary["frames_shown"] > 30
        assert "left" in summary["ended"]


@pytest.mark.netns
@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"),
                    reason="needs root, unshare and ip to make a loopback-only namespace")
def test_call_in_a_namespace_that_has_only_loopback(tmp_path: Path) -> None:
    """Default host candidates (auto): aioice alone would offer no candidate at all here."""
    script = (f"ip link set lo up && cd {PROJECT_ROOT} && {sys.executable} -m "
              f"experiments.local_call --out {tmp_path} --duration 4 --host-candidates auto --json")
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"unshare -n is not permitted here: {probe.stderr.decode().strip()}")
    result = subprocess.run(["unshare", "-n", "sh", "-c", script], capture_output=True,
                            text=True, env=child_env(), timeout=120)
    assert result.returncode == 0, result.stderr + result.stdout
    for line in result.stdout.splitlines():
        summary = json.loads(line)["summary"]
        assert summary["frames_shown"] >= 60
