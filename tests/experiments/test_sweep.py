"""`python -m experiments run`: the whole job, short, and its bad input."""

import json
import subprocess
from pathlib import Path

from experiments.processes import child_env, python_command


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(python_command("experiments", "run", *args), capture_output=True,
                          text=True, env=child_env(), timeout=300)


def test_unknown_trace_lists_the_available_ones(tmp_path: Path) -> None:
    result = run("--trace", "nope", "--controllers", "ours", "--duration", "5",
                 "--out", str(tmp_path))
    assert result.returncode == 2
    assert "unknown trace 'nope'" in result.stderr and "cellular" in result.stderr
    assert result.stderr.count("\n") == 1


def test_unknown_controller_is_refused(tmp_path: Path) -> None:
    result = run("--trace", "cellular", "--controllers", "ours,bbr", "--duration", "5",
                 "--out", str(tmp_path))
    assert result.returncode == 2 and "unknown controller 'bbr'" in result.stderr


def test_two_controllers_make_a_report(tmp_path: Path) -> None:
    result = run("--trace", "cellular", "--controllers", "ours,fixed:400k", "--duration", "6",
                 "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(summary) == {"ours", "fixed:400k"}
    for entry in summary.values():
        assert entry["frames_shown"] > 60 and entry["capacity_kbps"] > 500
    report = (tmp_path / "report.html").read_text()
    assert report.count("data:image/png;base64,") >= 4
    assert "report:" in result.stdout and "ours" in result.stdout


def test_no_playout_delay_reaches_every_call(tmp_path: Path) -> None:
    import argparse

    from experiments.sweep import add_parser, parse_plan

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    base = ["run", "--trace", "cellular", "--controllers", "ours,gcc", "--out", str(tmp_path)]
    on, off = (parse_plan(parser.parse_args(base + extra))
               for extra in ([], ["--no-playout-delay"]))
    assert all(spec.playout_delay for _, spec, _ in on.calls())
    assert not any(spec.playout_delay for _, spec, _ in off.calls())
