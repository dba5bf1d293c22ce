from __future__ import annotations

from pathlib import Path

from experiments.report.load import CallRun
from experiments.report.same_link import check_same_link
from peer.metrics import CallSummary


def _call(label: str, trace: str | None, capacity: float | None,
          fallback: float | None = None) -> CallRun:
    summary = CallSummary(media_trace=trace, media_capacity_kbps=capacity,
                          capacity_kbps=fallback)
    return CallRun(Path(label), label, label, "ok", "", summary)


def test_same_trace_and_capacity_is_the_same_link() -> None:
    check = check_same_link([_call("ours", "ATT.down", 5150.0), _call("chrome", "ATT.down",
                                                                      5100.0)])
    assert check.same is True and "ATT.down" in check.message


def test_chrome_on_the_other_file_is_flagged() -> None:
    """The issue's case: Chromium's media crossed .up (930 kbit/s), ours .down (5,150)."""
    check = check_same_link([_call("ours", "ATT.down", 5150.0), _call("chrome", "ATT.up",
                                                                      930.0)])
    assert check.same is False
    assert "NOT the same link" in check.message and "ATT.up" in check.message
    assert "differ by" in check.message


def test_capacities_more_than_2_percent_apart_are_flagged() -> None:
    check = check_same_link([_call("a", "T", 1000.0), _call("b", "T", 1030.0)])
    assert check.same is False and "3 %" in check.message


def test_without_netem_totals_capacity_kbps_stands_in() -> None:
    same = check_same_link([_call("a", None, None, 1000.0), _call("b", None, None, 1010.0)])
    assert same.same is True and "capacity alone" in same.message
    apart = check_same_link([_call("a", None, None, 1000.0), _call("b", None, None, 5000.0)])
    assert apart.same is False
    unknown = check_same_link([_call("a", None, None), _call("b", "T", 1000.0)])
    assert unknown.same is None and "a" in unknown.message


def test_failed_calls_and_single_calls_are_not_compared() -> None:
    failed = CallRun(Path("x"), "x", "x", "failed", "no", None)
    assert check_same_link([_call("a", "T", 1.0), failed]).same is True
