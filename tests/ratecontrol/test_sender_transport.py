"""The sender transport: stamping, pacing, the controller's timer, retransmission, and the
feedback guard seen from outside (refused feedback never reaches the controller)."""

from __future__ import annotations

import itertools
import math

import pytest

from ratecontrol.feedback_events import LossReport, Nack, Pli, Remb, TransportCc
from ratecontrol.sender_transport import OutgoingPacket, SenderTransport, SenderTransportConfig
from ratecontrol.twcc import TransportFeedback, parse_rtcp_transport_cc
from ratecontrol.twcc_recorder import TwccRecorder
from ratecontrol.types import FrameDecision, PacketResult, SentPacket


class Listener:
    """A paced fixed-rate controller that keeps what the transport told it."""

    name = "listener"

    def __init__(self, pacing_bps: float | None = 1_000_000.0) -> None:
        self.pacing = pacing_bps
        self.sent: list[SentPacket] = []
        self.results: list[PacketResult] = []
        self.rembs: list[float] = []
        self.timers: list[float] = []

    def on_packet_sent(self, packet: SentPacket) -> None:
        self.sent.append(packet)

    def on_feedback(self, results: list[PacketResult], now_ms: float) -> None:
        self.results.extend(results)

    def on_remb(self, bitrate_bps: float, now_ms: float) -> None:
        self.rembs.append(bitrate_bps)

    def on_timer(self, now_ms: float) -> None:
        self.timers.append(now_ms)

    def target_bps(self) -> float:
        return 400_000.0

    def pacing_bps(self) -> float | None:
        return self.pacing

    def frame_decision(self, now_ms: float, frame_interval_ms: float) -> FrameDecision:
        return FrameDecision(True, 1500, 0)

    def on_frame_encoded(self, size_bytes: int, keyframe: bool, now_ms: float) -> None:
        pass


def _drain(transport: SenderTransport[str], now_ms: float) -> list[OutgoingPacket[str]]:
    """Run the transport's own timer until nothing is queued."""
    out = transport.packets_to_send(now_ms)
    while transport.pacer.queued_packets:
        wake = transport.get_timer()
        assert wake is not None and wake >= now_ms
        now_ms = wake
        transport.handle_timer(now_ms)
        out += transport.packets_to_send(now_ms)
    return out


def _sent(listener: Listener | None = None, count: int = 10,
          gap_ms: float = 10.0) -> tuple[SenderTransport[str], Listener]:
    """A transport that has sent `count` media packets (RTP seq 100+i), one every `gap_ms`."""
    listener = listener or Listener(None)
    transport: SenderTransport[str] = SenderTransport(listener)
    for i in range(count):
        transport.send_media(f"p{i}", 1200, 100 + i, i * gap_ms)
        transport.packets_to_send(i * gap_ms)
    return transport, listener


def _truthful(transport: SenderTransport[str], listener: Listener, one_way_ms: float,
              now_ms: float, clock_offset_ms: float = 0.0,
              seqs: range | None = None) -> TransportCc:
    """The feedback a real receiver would send (real recorder, real bytes) for `seqs`."""
    recorder = TwccRecorder()
    for p in listener.sent:
        if seqs is None or p.transport_seq in seqs:
            recorder.on_packet(p.transport_seq % 65536, p.sent_ms + one_way_ms + clock_offset_ms)
    [data] = recorder.build_feedback(now_ms + clock_offset_ms, 1, 2)
    parsed = parse_rtcp_transport_cc(data)
    assert parsed is not None
    return TransportCc(parsed)


def test_packets_leave_paced_and_stamped_in_order() -> None:
    listener = Listener(pacing_bps=960_000.0)  # 1200 bytes every 10 ms
    transport: SenderTransport[str] = SenderTransport(listener)
    for i in range(5):
        transport.send_media(f"p{i}", 1200, i, 0.0)
    out = _drain(transport, 0.0)
    assert [o.payload for o in out] == ["p0", "p1", "p2", "p3", "p4"]
    assert [o.transport_seq for o in out] == [0, 1, 2, 3, 4]
    gaps = [b.sent_ms - a.sent_ms for a, b in itertools.pairwise(out)]
    assert all(g == pytest.approx(10.0, abs=0.1) for g in gaps[1:])
    assert [p.transport_seq for p in listener.sent] == [0, 1, 2, 3, 4]
    assert transport.adapter.highest_sent == 4
    assert transport.stats.packets_sent == 5 and transport.stats.bytes_sent == 6000


def test_sound_and_resends_leave_ahead_of_queued_video() -> None:
    listener = Listener(pacing_bps=960_000.0)  # 1200 bytes every 10 ms
    transport: SenderTransport[str] = SenderTransport(listener)
    for i in range(4):
        transport.send_media(f"v{i}", 1200, i, 0.0)
    transport.handle_timer(0.0)
    assert [o.payload for o in transport.packets_to_send(0.0)] == ["v0"]
    transport.send_media("rtx", 1200, None, 1.0, retransmission=True)
    transport.send_media("a0", 120, None, 2.0, is_audio=True)
    assert [o.payload for o in transport.packets_to_send(2.0)] == ["a0"]  # sound: at once
    transport.receive_feedback(Nack((0,)), 3.0)  # the transport's own resend of v0
    out = _drain(transport, 3.0)
    assert [(o.payload, o.retransmission) for o in out] == [
        ("rtx", True), ("v0", True), ("v1", False), ("v2", False), ("v3", False)]
    assert [p.is_audio for p in listener.sent].count(True) == 1


def test_without_a_controller_packets_pass_through_unstamped() -> None:
    transport: SenderTransport[str] = SenderTransport(None)
    for i in range(3):
        transport.send_media(f"p{i}", 1200, i, 5.0)
    out = transport.packets_to_send(5.0)
    assert [o.transport_seq for o in out] == [None, None, None]
    assert transport.get_timer() is None
    transport.receive_feedback(Remb(1e6), 6.0)
    assert transport.stats.feedback_ignored == 1
    assert transport.retransmittable(Nack((1,)), 50.0) == [1]  # the rule still applies


def test_the_controller_gets_a_turn_every_25_ms() -> None:
    listener = Listener()
    transport: SenderTransport[str] = SenderTransport(listener)
    assert transport.get_timer() == 0.0  # the first turn is due at once
    now = 0.0
    while now < 100.0:
        transport.handle_timer(now)
        wake = transport.get_timer()
        assert wake is not None
        now = wake
    assert listener.timers == [0.0, 25.0, 50.0, 75.0]
    transport.handle_timer(400.0)  # a late turn does not catch up with a burst
    assert listener.timers[-1] == 400.0 and transport.get_timer() == 425.0
    with pytest.raises(ValueError, match="controller_interval_ms"):
        SenderTransportConfig(controller_interval_ms=0)


def test_truthful_feedback_reaches_the_controller_whatever_the_clock_offset() -> None:
    transport, listener = _sent()
    transport.receive_feedback(_truthful(transport, listener, 40.0, 200.0, 3.6e6), 200.0)
    assert [r.transport_seq for r in listener.results] == list(range(10))
    assert transport.stats.feedback_refused == 0
    assert transport.rtt_ms is not None and 40.0 <= transport.rtt_ms <= 200.0


def test_nacked_packet_resent_once_per_rtt_and_never_after_300_ms() -> None:
    transport, _ = _sent(count=3)
    transport.receive_feedback(Nack((101,)), 50.0)
    assert [(o.payload, o.retransmission) for o in transport.packets_to_send(50.0)] == [
        ("p1", True)]
    transport.receive_feedback(Nack((101,)), 90.0)  # within the 100 ms default RTT
    assert transport.packets_to_send(90.0) == []
    transport.receive_feedback(Nack((101, 101)), 160.0)  # one RTT later: again, once
    assert [o.payload for o in transport.packets_to_send(160.0)] == ["p1"]
    transport.receive_feedback(Nack((100,)), 301.0)  # first sent 301 ms ago: too old
    assert transport.packets_to_send(301.0) == []
    assert transport.stats.retransmissions == 2
    assert transport.stats.retransmissions_refused == 2


def test_a_stack_that_resends_itself_asks_the_same_rule() -> None:
    transport, _ = _sent(count=3)
    assert transport.retransmittable(Nack((100, 101, 102)), 250.0) == [100, 101, 102]
    assert transport.retransmittable(Nack((100,)), 260.0) == []  # resent within an RTT
    assert transport.retransmittable(Nack((100,)), 400.0) == []  # too old
    assert transport.stats.retransmissions == 3
    assert transport.stats.retransmissions_refused == 2


def test_pli_asks_for_one_keyframe() -> None:
    transport, _ = _sent(count=1)
    transport.receive_feedback(Pli(), 10.0)
    assert transport.take_keyframe_request() is True
    assert transport.take_keyframe_request() is False
    assert transport.stats.keyframe_requests == 1


# -- refused at the door: each reason, and the controller hears nothing of it ----------------


def _refused(transport: SenderTransport[str], listener: Listener, reason: str) -> None:
    stats = transport.stats
    assert getattr(stats, f"refused_{reason}") == 1
    assert stats.feedback_refused == 1


def test_ack_of_a_packet_never_sent_is_refused_and_the_sent_part_kept() -> None:
    transport, listener = _sent()
    ahead = TransportFeedback(1, 2, base_seq=8, reference_time_64ms=3, feedback_count=0,
                              deltas_ticks=(4, 4, 4))  # seqs 8, 9 and the unsent 10
    transport.receive_feedback(TransportCc(ahead), 300.0)
    assert transport.stats.refused_unsent_ack == 1
    # Deltas chain forward: what it says of 8 and 9 does not rest on the false 10.
    assert [r.transport_seq for r in listener.results] == [8, 9]
    fresh, silent = _sent(count=0)
    fresh.receive_feedback(TransportCc(ahead), 300.0)  # nothing sent at all
    assert fresh.stats.refused_unsent_ack == 1 and silent.results == []


def test_a_window_ending_on_a_forged_seq_still_tells_the_real_arrivals() -> None:
    # A receiver handed one forged seq ahead of ours ends its windows on it; the packets
    # between our highest and it are "not received" and vouch for nothing.
    transport, listener = _sent()
    forged_end = TransportFeedback(1, 2, base_seq=8, reference_time_64ms=3, feedback_count=0,
                                   deltas_ticks=(4, 4, None, None, None, None, 4))
    transport.receive_feedback(TransportCc(forged_end), 300.0)
    assert [r.transport_seq for r in listener.results] == [8, 9]
    assert transport.stats.refused_unsent_ack == 1
    before_first = TransportFeedback(1, 2, base_seq=65_530, reference_time_64ms=3,
                                     feedback_count=1, deltas_ticks=(4,) * 8)
    transport.receive_feedback(TransportCc(before_first), 310.0)
    assert transport.stats.refused_unsent_ack == 2 and len(listener.results) == 2


def test_a_loss_no_later_arrival_vouches_for_is_refused() -> None:
    transport, listener = _sent()
    # "Packets 5..9 were lost": a receiver only knows that once a later packet arrived.
    lie = TransportFeedback(1, 2, base_seq=5, reference_time_64ms=3, feedback_count=0,
                            deltas_ticks=(None,) * 5)
    transport.receive_feedback(TransportCc(lie), 120.0)
    _refused(transport, listener, "loss_unvouched")
    assert listener.results == []


def test_arrival_before_the_send_time_is_refused() -> None:
    transport, listener = _sent(count=20)
    first = range(0, 10)
    transport.receive_feedback(_truthful(transport, listener, 40.0, 150.0, seqs=first), 150.0)
    assert len(listener.results) == 10
    # The next ten claim a 40 ms shorter trip: given the first feedback, they would have
    # arrived before they were sent (the path's fastest was 40 ms, the return was quick).
    lie = _truthful(transport, listener, 40.0 - 80.0, 260.0, seqs=range(10, 20))
    transport.receive_feedback(lie, 260.0)
    _refused(transport, listener, "arrival_before_send")
    assert len(listener.results) == 10


def test_arrival_after_the_feedback_came_back_is_refused() -> None:
    transport, listener = _sent(count=20)
    transport.receive_feedback(_truthful(transport, listener, 40.0, 150.0,
                                         seqs=range(0, 10)), 150.0)
    # These claim a trip so long that the feedback reporting them could not be here yet.
    lie = _truthful(transport, listener, 40.0 + 400.0, 260.0, seqs=range(10, 20))
    transport.receive_feedback(lie, 260.0)
    _refused(transport, listener, "arrival_after_feedback")


def test_arrivals_running_backwards_beyond_reordering_are_refused() -> None:
    transport, listener = _sent(count=3, gap_ms=1.0)
    # seq 2 "arrived" 1 s before seq 1, which was sent 1 ms earlier.
    backwards = TransportFeedback(1, 2, 0, 100, 0, (0, 4000, -4000 * 2))
    transport.receive_feedback(TransportCc(backwards), 5000.0)
    _refused(transport, listener, "arrival_backwards")
    assert listener.results == []


def test_truthful_receiver_passes_a_jump_in_delay_and_drifting_clocks() -> None:
    transport, listener = _sent(count=0)
    t = 0.0
    seq = 0
    for step in range(200):  # 10 s, feedback every 50 ms, delay 40 ms then 400 ms
        for _ in range(5):
            transport.send_media("p", 1200, seq, t)
            transport.packets_to_send(t)
            seq += 1
            t += 10.0
        one_way = 40.0 if step < 100 else 400.0
        drift = 1.0 + 200e-6  # the receiver's clock runs 200 ppm fast
        recorder = TwccRecorder()
        for p in listener.sent[-5:]:
            recorder.on_packet(p.transport_seq, (p.sent_ms + one_way) * drift + 5e5)
        [data] = recorder.build_feedback(t * drift, 1, 2)
        parsed = parse_rtcp_transport_cc(data)
        assert parsed is not None
        transport.receive_feedback(TransportCc(parsed), t + one_way + 30.0)
    assert transport.stats.feedback_refused == 0
    assert len(listener.results) == seq


def test_nack_for_a_packet_never_sent_is_refused() -> None:
    transport, listener = _sent(count=3)  # RTP seqs 100..102
    transport.receive_feedback(Nack((101, 103)), 50.0)
    _refused(transport, listener, "unsent_nack")
    assert transport.packets_to_send(50.0) == [] and transport.stats.retransmissions == 0
    assert transport.retransmittable(Nack((5_000,)), 50.0) == []
    assert transport.stats.refused_unsent_nack == 2


def test_remb_out_of_all_proportion_is_refused() -> None:
    transport, listener = _sent(count=10)  # ~1 Mbit/s for 100 ms: 96 kbit over the second
    transport.receive_feedback(Remb(2_000_000.0), 100.0)  # plausible
    assert listener.rembs == [2_000_000.0]
    for lie in (1e12, math.nan, -5.0):
        transport.receive_feedback(Remb(lie), 100.0)
    assert transport.stats.refused_remb == 3
    assert listener.rembs == [2_000_000.0]


def test_loss_report_out_of_proportion_is_refused() -> None:
    transport, _ = _sent(count=10)  # RTP seqs 100..109
    transport.receive_feedback(LossReport(0.1, 1, 109), 100.0)
    assert transport.stats.feedback_refused == 0
    for lie in (LossReport(1.5, 1, 109), LossReport(0.0, 5000, 109),
                LossReport(0.0, 0, 900)):
        transport.receive_feedback(lie, 100.0)
    assert transport.stats.refused_loss_report == 3
