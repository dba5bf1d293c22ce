import json
from pathlib import Path

import pytest

from experiments.__main__ import main
from experiments.summary import SUMMARY_KEYS


def test_sim_writes_summary_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s.json"
    png = tmp_path / "s.png"
    code = main(
        [
            "sim", "--trace", "const-1mbps", "--controller", "fixed:400k", "--duration", "4",
            "--json", str(out), "--plot", str(png), "--delay-ms", "20", "--seed", "3",
        ]
    )
    assert code == 0
    data = json.loads(out.read_text())
    for key in SUMMARY_KEYS:
        assert key in data
    assert data["frames_sent"] == 120
    assert data["controller"] == "fixed:400k"
    assert data["settings"]["delay_ms"] == 20
    assert data["settings"]["media_trace"] == "const-1mbps"
    assert png.stat().st_size > 1_000
    line = capsys.readouterr().out.strip()
    assert line.startswith("fixed:400k on const-1mbps") and "\n" not in line


def test_bad_trace_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["sim", "--trace", "no-such-trace", "--json", str(tmp_path / "x.json")])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "no-such-trace" in err and "const-1mbps" in err
    assert not (tmp_path / "x.json").exists()


def test_bad_controller_and_values(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "x.json")
    assert main(["sim", "--trace", "const-1mbps", "--controller", "bogus", "--json", out]) == 2
    assert "ours" in capsys.readouterr().err
    assert main(["sim", "--trace", "const-1mbps", "--loss", "2", "--json", out]) == 2
    assert "loss" in capsys.readouterr().err


def test_needs_a_subcommand() -> None:
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2


def test_sim_plays_a_clip_over_the_whole_trace(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s.json"
    code = main(["sim", "--trace", "const-1mbps", "--controller", "fixed:400k", "--duration",
                 "full", "--source", "clip:bikes", "--json", str(out)])
    assert code == 0
    data = json.loads(out.read_text())
    assert data["settings"]["duration_s"] == 60.0 and data["settings"]["source"] == "clip:bikes"
    assert data["frames_sent"] == 60 * 25  # the clip's own rate
    # 400 kbit/s of bikes (640x272) looks better than of the noisy pattern at 640x480
    assert main(["sim", "--trace", "const-1mbps", "--controller", "fixed:400k", "--duration",
                 "10", "--json", str(tmp_path / "p.json")]) == 0
    pattern = json.loads((tmp_path / "p.json").read_text())
    assert data["ssim_db_mean"] > pattern["ssim_db_mean"]
    assert "60 s of clip:bikes" in capsys.readouterr().out


def test_sim_bad_sources_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "x.json")
    assert main(["sim", "--trace", "const-1mbps", "--source", "clip:nope", "--json", out]) == 2
    err = capsys.readouterr().err
    assert "unknown clip 'nope'" in err and "clip:bikes" in err and err.count("\n") == 1
    assert main(["sim", "--trace", "const-1mbps", "--source", "clip:carphone_pristine",
                 "--json", out]) == 2
    err = capsys.readouterr().err
    assert "fit_quality --source clip:carphone_pristine" in err and err.count("\n") == 1


def test_run_refuses_a_bad_source_before_any_call(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    args = ["run", "--trace", "cellular", "--controllers", "ours,chrome", "--duration", "5",
            "--out", str(tmp_path / "run")]
    assert main([*args, "--source", "clip:nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown clip 'nope'" in err and "clip:bikes" in err and err.count("\n") == 1
    assert main([*args, "--source", "camera"]) == 2
    assert "testpattern or clip:NAME" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
