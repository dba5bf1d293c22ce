"""`python -m experiments sweep --sim`: files, resume, and bad input (one worker, short runs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from experiments.__main__ import main


def test_a_sweep_writes_runs_table_and_plot_and_resume_fills_the_gap(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sweep"
    args = ["sweep", "--sim", "--trace", "cellular", "--controllers", "ours", "--seeds", "0-1",
            "--duration", "3", "--set", "coupler.target_delay_ms=5,20", "--workers", "1"]
    assert main([*args, "--out", str(out)]) == 0
    results = sorted(out.glob("cellular/ours/*/seed-*.json"))
    assert [p.relative_to(out).as_posix() for p in results] == [
        f"cellular/ours/coupler.target_delay_ms={v}/seed-{s}.json"
        for v in (20, 5) for s in (0, 1)]
    assert (out / "table.csv").read_text().count("\n") == 3  # header and one row per value
    assert (out / "signal_delay_ms_p95.png").stat().st_size > 1000
    assert json.loads(results[0].read_text())["set"] == {"coupler.target_delay_ms": "20"}

    # The same keys as `experiments sim` writes (plus `set`, the parameters changed).
    main(["sim", "--trace", "cellular", "--duration", "3", "--json", str(tmp_path / "one.json")])
    one = json.loads((tmp_path / "one.json").read_text())
    swept = json.loads(results[0].read_text())
    assert set(swept) - set(one) == {"set"} and set(one) <= set(swept)
    assert set(swept["settings"]) == set(one["settings"])

    results[0].unlink()
    capsys.readouterr()
    assert main([*args, "--resume", str(out)]) == 0
    assert "1 of 4 runs to do" in capsys.readouterr().err
    assert results[0].is_file()


def test_an_unknown_parameter_path_is_refused_with_the_valid_ones(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["sweep", "--sim", "--trace", "cellular", "--controllers", "ours,gcc",
                 "--out", str(tmp_path), "--set", "coupler.target_delay_ms=5"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "no parameter 'coupler.target_delay_ms' in GccConfig; valid: bounds.min_bps" in err


@pytest.mark.parametrize(("flag", "value", "message"), [
    ("--seeds", "x-y", "bad --seeds 'x-y'"),
    ("--set", "coupler.target_delay_ms", "bad --set"),
    ("--trace", "nope", "unknown trace 'nope'"),
])
def test_bad_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str,
                               value: str, message: str) -> None:
    args = {"--trace": "cellular", "--out": str(tmp_path), flag: value}
    code = main(["sweep", "--sim", *[x for kv in args.items() for x in kv]])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1
