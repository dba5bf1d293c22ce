"""``python -m netem``: argument errors, and a real run in a child process."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from aioice import turn

from netem.__main__ import main
from netem.traces import traces_dir

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "argv",
    [
        ["--bogus"],
        ["--up", "const-1mbps"],
        ["--up", "no-such-trace", "--down", "const-1mbps"],
        ["--up", "const-1mbps", "--down", "const-1mbps", "--loss", "2"],
        ["--up", "const-1mbps", "--down", "const-1mbps", "--listen", "nowhere"],
        ["--up", "const-1mbps", "--down", "const-1mbps", "--listen", "0.0.0.0:3478"],
        ["--up", "const-1mbps", "--down", "const-1mbps", "--user", "nopassword"],
        ["--up", "const-1mbps", "--down", "const-1mbps", "--queue-packets", "0"],
        ["--up", "const-1mbps", "--down", "const-1mbps", "--burst-loss", "-1:20"],
    ],
)
def test_bad_arguments_exit_2_with_one_line(
    argv: list[str], capsys: pytest.CaptureFixture
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("netem: ") and err.count("\n") == 1, err


def test_runs_relays_and_stops_on_sigterm(tmp_path: Path) -> None:
    log = tmp_path / "packets.jsonl"
    cmd = [sys.executable, "-m", "netem", "--listen", "127.0.0.1:0", "--up", "const-1mbps",
           "--down", "const-2mbps", "--delay-ms", "5", "--user", "u:p", "--up-user", "u",
           "--stats-interval",
           "0.2", "--packet-log", str(log), "--seed", "3"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        banner = proc.stderr.readline()
        assert "turn:127.0.0.1:" in banner, banner
        assert "(up const-1mbps: what user u sends; down const-2mbps: the reverse)" in banner
        port = int(banner.split("turn:127.0.0.1:")[1].split()[0])

        async def call() -> None:
            server = ("127.0.0.1", port)
            ta, _ = await turn.create_turn_endpoint(asyncio.DatagramProtocol, server, "u", "p")
            tb, _ = await turn.create_turn_endpoint(asyncio.DatagramProtocol, server, "u", "p")
            for _ in range(5):
                tb.sendto(b"x" * 100, ta.get_extra_info("sockname"))
                ta.sendto(b"y" * 100, tb.get_extra_info("sockname"))
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.3)

        asyncio.run(call())
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    lines = err.splitlines()
    assert any(line.startswith("netem   up:") for line in lines), err
    assert any(line.startswith("netem down:") for line in lines), err
    total_up = [line for line in lines if line.startswith("netem total up:")]
    assert total_up and " packets 5 " in total_up[0], err
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert len([r for r in records if "event" not in r]) == 10
    assert records[0]["event"] == "origin" and records[0]["up_users"] == ["u"]
    assert records[0]["up"]["trace"] == "const-1mbps"
    assert records[0]["down"]["trace"] == "const-2mbps"
    totals = {r["direction"]: r for r in records if r.get("event") == "total"}
    assert totals["up"]["trace"] == "const-1mbps" and totals["up"]["delivered_packets"] == 5
    assert totals["down"]["trace"] == "const-2mbps" and totals["down"]["delivered_packets"] == 5
    assert totals["down"]["capacity_kbps"] == pytest.approx(2000.0, rel=0.05)
    assert " trace const-1mbps " in total_up[0]


@pytest.mark.skipif(not (traces_dir() / "ATT-LTE-driving.up").exists(),
                    reason="the shared ATT-LTE-driving traces are not on this machine")
def test_pair_names_pick_the_up_and_down_files_and_flags_reach_both_links() -> None:
    from netem.__main__ import build_parser, config_from_args

    args = build_parser().parse_args([
        "--up", "ATT-LTE-driving", "--down", "ATT-LTE-driving", "--delay-ms", "40",
        "--loss", "0.01", "--queue-packets", "25", "--user", "a:b", "--realm", "lab",
    ])
    config = config_from_args(args)
    assert (config.up.trace.name, config.down.trace.name) == (
        "ATT-LTE-driving.up", "ATT-LTE-driving.down",
    )
    for link in (config.up, config.down):
        assert link.delay_ms == 40.0
        assert link.queue.limit_packets == 25  # type: ignore[attr-defined]
        assert link.loss.p == 0.01  # type: ignore[attr-defined]
    assert config.up.seed != config.down.seed
    assert config.turn.auth.users == {"a": "b"} and config.turn.auth.realm == "lab"


def test_up_user_must_be_a_user(capsys: pytest.CaptureFixture) -> None:
    argv = ["--up", "const-1mbps", "--down", "const-1mbps", "--user", "a:b", "--up-user", "c"]
    assert main(argv) == 2
    assert "--up-user c is not a --user" in capsys.readouterr().err


@pytest.mark.parametrize(
    "value, what",
    [
        ("up:-1:20", "AT_S '-1' is not a time >= 0"),
        ("-0.5:20", "AT_S '-0.5' is not a time >= 0"),
        ("up:soon:20", "AT_S 'soon' is not a time >= 0"),
        ("10:0", "COUNT '0' is not a whole number >= 1"),
        ("down:10:2.5", "COUNT '2.5' is not a whole number >= 1"),
        ("sideways:10:20", "direction 'sideways' is neither up nor down"),
        ("10", "'10' is not [DIR:]AT_S:COUNT"),
        ("up:10:20:30", "is not [DIR:]AT_S:COUNT"),
    ],
)
def test_bad_burst_loss_says_what_is_wrong_and_what_to_write(
    value: str, what: str, capsys: pytest.CaptureFixture
) -> None:
    argv = ["--up", "const-1mbps", "--down", "const-1mbps", f"--burst-loss={value}"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and what in err and "write [up:|down:]AT_S:COUNT" in err, err


def test_burst_loss_parses_and_reaches_its_direction_only() -> None:
    from netem.__main__ import build_parser, config_from_args
    from netem.loss import LossBurst

    args = build_parser().parse_args([
        "--up", "const-1mbps", "--down", "const-1mbps", "--loss", "0.01",
        "--burst-loss", "10:20", "--burst-loss", "down:2.5:1", "--burst-loss", "up:0:3",
    ])
    config = config_from_args(args)
    assert config.up.bursts == (LossBurst(10_000.0, 20), LossBurst(0.0, 3))
    assert config.down.bursts == (LossBurst(2_500.0, 1),)
    assert config.up.loss.p == config.down.loss.p == 0.01  # type: ignore[attr-defined]
    no_bursts = config_from_args(
        build_parser().parse_args(["--up", "const-1mbps", "--down", "const-1mbps"])
    )
    assert no_bursts.up.bursts == no_bursts.down.bursts == ()
