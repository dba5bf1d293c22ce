"""Faults on the media path in real calls through netem (`ours` sending to our receiver):
the call rides them out, and comes back as fast as the targets say."""

from pathlib import Path

import pytest

from experiments.faults import FAULTS, FaultRun, run_fault

pytestmark = pytest.mark.slow


def run(name: str, tmp_path: Path) -> FaultRun:
    result = run_fault(FAULTS[name], tmp_path / name)
    assert result.status == "ok", result.reason
    assert result.cost is not None and result.summary is not None
    assert result.summary["decode_errors"] == 0
    return result


@pytest.mark.parametrize("name", ["outage-5s", "outage-10s"])
def test_a_short_outage_is_ridden_out_on_the_same_path(name: str, tmp_path: Path) -> None:
    cost = run(name, tmp_path).cost
    assert cost is not None
    assert cost.floor_s is not None and cost.floor_s <= 3.0  # down to the floor within 3 s
    assert cost.connection_lost_s is None and cost.restarts == 0  # ICE stayed connected
    # No queue of stale frames was waiting for the link: the few sent before the sender
    # knew, and its sign-of-life frames, are through within half a second.
    assert cost.stale_until_s is None or cost.stale_until_s <= 0.5
    assert cost.recovery_s is not None and cost.recovery_s <= 2.0  # a fresh frame within 2 s
    assert cost.rate_back_s is not None and cost.rate_back_s <= 10.0  # 80 % within 10 s


def test_a_35_s_outage_expires_consent_and_a_new_session_brings_video_back(
        tmp_path: Path) -> None:
    cost = run("outage-35s", tmp_path).cost
    assert cost is not None
    assert cost.connection_lost_s is not None and cost.connection_lost_s < 35.0
    assert cost.restarts >= 1
    assert cost.recovery_s is not None and cost.recovery_s <= 5.0


def test_nack_and_rtx_repair_random_loss_in_time(tmp_path: Path) -> None:
    summary = run("loss-2pct", tmp_path).summary
    assert summary is not None
    assert summary["packets_missing"] >= 20  # the loss really happened
    assert summary["packets_recovered"] >= 0.9 * summary["packets_missing"]


def test_a_burst_is_repaired_by_retransmission_without_a_keyframe(tmp_path: Path) -> None:
    result = run("burst-20", tmp_path)
    # Most of the 20 are video packets; one may be the sender's RTCP or a consent check.
    assert result.summary is not None and result.summary["packets_missing"] >= 15
    assert result.summary["packets_recovered"] == result.summary["packets_missing"]
    assert result.cost is not None
    assert result.cost.recovery_s is not None and result.cost.recovery_s <= 1.0


def test_a_burst_without_nack_brings_a_pli_and_a_keyframe_within_a_second(
        tmp_path: Path) -> None:
    cost = run("burst-20-no-nack", tmp_path).cost
    assert cost is not None
    assert cost.keyframe_requests >= 1
    assert cost.keyframe_s is not None and cost.keyframe_s <= 1.0
