"""The guard's rules on their own (through the sender transport: test_sender_transport)."""

import pytest

from ratecontrol.feedback_events import LossReport, Nack, Remb
from ratecontrol.feedback_guard import FeedbackGuard, FeedbackGuardConfig, Refusal, seq_ahead
from ratecontrol.twcc import TransportFeedback
from ratecontrol.types import PacketResult


def _fb(base: int, count: int) -> TransportFeedback:
    return TransportFeedback(1, 2, base, 0, 0, (4,) * count)


def test_seq_ahead_wraps() -> None:
    assert seq_ahead(1, 65_535) and not seq_ahead(65_535, 1)
    assert not seq_ahead(5, 5)


def test_unsent_ack_at_either_end_of_the_window_and_across_the_wrap() -> None:
    guard = FeedbackGuard()
    assert guard.check_transport_cc(_fb(65_530, 6), 65_535, [], 0.0) is None
    assert guard.check_transport_cc(_fb(65_530, 7), 65_535, [], 0.0) is Refusal.UNSENT_ACK
    assert guard.check_transport_cc(_fb(65_530, 3), 10, [], 0.0) is Refusal.UNSENT_ACK  # < 0
    assert guard.check_transport_cc(_fb(0, 40_000), 70_000, [], 0.0) is Refusal.UNSENT_ACK
    assert guard.check_transport_cc(_fb(3, 1), None, [], 0.0) is Refusal.UNSENT_ACK


def test_clock_offset_evidence_is_kept_across_feedbacks() -> None:
    guard = FeedbackGuard(FeedbackGuardConfig(drift_ppm=0.0))
    # Offset 1000 ms; packets sent at 0 and 10, arriving 30 ms later, heard of at 60.
    ok = [PacketResult(0, 100, 0.0, 1030.0), PacketResult(1, 100, 10.0, 1040.0)]
    assert guard.check_transport_cc(_fb(0, 2), 1, ok, 60.0) is None
    # The offset now lies in [1040 - 60, 1030 - 0] = [980, 1030].
    early = [PacketResult(2, 100, 100.0, 1060.0)]  # would need an offset of at most 960
    assert guard.check_transport_cc(_fb(2, 1), 2, early, 150.0) is Refusal.ARRIVAL_BEFORE_SEND
    late = [PacketResult(2, 100, 100.0, 1160.0)]  # offset in [1010, 1060]: consistent
    assert guard.check_transport_cc(_fb(2, 1), 2, late, 150.0) is None
    too_late = [PacketResult(3, 100, 110.0, 1300.0)]  # offset >= 1140: beyond 1030
    assert guard.check_transport_cc(_fb(3, 1), 3, too_late, 160.0) is (
        Refusal.ARRIVAL_AFTER_FEEDBACK)


def test_a_lie_that_fit_stops_refusing_the_truth_once_its_evidence_expires() -> None:
    guard = FeedbackGuard()
    # True offset 0, trips of 30 ms heard of 30 ms later. A lie heard of 10 ms after sending
    # fits (nothing is known yet) and pins the offset to [-50, -40].
    lie = [PacketResult(0, 100, 0.0, -40.0)]
    assert guard.check_transport_cc(_fb(0, 1), 0, lie, 10.0) is None
    truth = [PacketResult(1, 100, 100.0, 130.0)]
    assert guard.check_transport_cc(_fb(1, 1), 1, truth, 160.0) is (
        Refusal.ARRIVAL_AFTER_FEEDBACK)
    truth = [PacketResult(2, 100, 1100.0, 1130.0)]  # more than 1 s after the lie
    assert guard.check_transport_cc(_fb(2, 1), 2, truth, 1160.0) is None


def test_nack_remb_and_loss_report_rules() -> None:
    guard = FeedbackGuard()
    assert guard.check_nack(Nack((5, 65_535)), 10) is None  # 65535 is "behind" 10 (wrap)
    assert guard.check_nack(Nack((11,)), 10) is Refusal.UNSENT_NACK
    assert guard.check_nack(Nack((1,)), None) is Refusal.UNSENT_NACK
    assert guard.check_remb(Remb(8e6), sent_bps=0.0) is None  # 8 x the 1 Mbit/s floor
    assert guard.check_remb(Remb(8.1e6), sent_bps=0.0) is Refusal.REMB
    assert guard.check_remb(Remb(20e6), sent_bps=3e6) is None
    assert guard.check_loss_report(LossReport(0.5, -3, 9), 10, 9) is None
    assert guard.check_loss_report(LossReport(0.5, -11, 9), 10, 9) is Refusal.LOSS_REPORT
    with pytest.raises(ValueError, match="remb_max_ratio"):
        FeedbackGuardConfig(remb_max_ratio=0.5)
