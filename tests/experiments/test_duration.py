"""`--duration S|full`: a whole trace is its media file's own length."""

import argparse
from pathlib import Path

import pytest

from experiments.duration import call_duration_s, full_length_s, parse_duration
from experiments.link_spec import LinkSpec
from experiments.sweep import Plan
from netem.traces import traces_dir

needs_shared = pytest.mark.skipif(not (traces_dir() / "ATT-LTE-driving.down").is_file(),
                                  reason="the shared cellular traces are not here")


def test_seconds_or_full() -> None:
    assert parse_duration("12.5") == 12.5
    assert parse_duration("full") is None and parse_duration(" FULL ") is None
    for bad in ("0", "-3", "nan", "inf", "whole"):
        with pytest.raises(argparse.ArgumentTypeError, match="positive seconds or full"):
            parse_duration(bad)


@needs_shared
def test_full_is_the_media_traces_own_length() -> None:
    assert full_length_s("ATT-LTE-driving") == pytest.approx(786.112)
    assert full_length_s("TMobile-UMTS-driving") == pytest.approx(928.424)
    assert full_length_s("Verizon-LTE-short") == pytest.approx(140.0)
    assert full_length_s("cellular") == pytest.approx(120.0)
    assert call_duration_s(30.0, "ATT-LTE-driving") == 30.0


@needs_shared
def test_each_call_of_a_sweep_takes_its_own_traces_length(tmp_path: Path) -> None:
    plan = Plan(["ATT-LTE-driving", "Verizon-LTE-short"], ["ours", "chrome"], 1, None,
                LinkSpec(""), tmp_path, source="clip:bikes")
    lengths = {(trace, spec.controller): spec.duration_s for trace, spec, _ in plan.calls()}
    assert lengths == {("ATT-LTE-driving", "ours"): pytest.approx(786.112),
                       ("ATT-LTE-driving", "chrome"): pytest.approx(786.112),
                       ("Verizon-LTE-short", "ours"): 140.0,
                       ("Verizon-LTE-short", "chrome"): 140.0}
    assert {spec.source for _, spec, _ in plan.calls()} == {"clip:bikes"}
