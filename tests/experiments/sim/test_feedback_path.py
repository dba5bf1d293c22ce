from experiments.sim.feedback_path import (
    RTCP_OVERHEAD_BYTES,
    FeedbackMessage,
    RembFeedback,
    TwccFeedback,
    nack_message,
    pli_message,
    receiver_feedback,
)
from ratecontrol.feedback_adapter import FeedbackAdapter
from ratecontrol.feedback_events import Nack, Pli, Remb, TransportCc
from ratecontrol.twcc import parse_rtcp_transport_cc
from ratecontrol.twcc_recorder import TwccRecorderConfig
from ratecontrol.types import SentPacket


def test_twcc_bytes_round_trip_through_adapter() -> None:
    rx = TwccFeedback(TwccRecorderConfig(interval_ms=50.0))
    adapter = FeedbackAdapter()
    for seq in range(70_000 - 5, 70_000 + 20):  # crosses a 16-bit wrap
        adapter.on_sent(SentPacket(seq, 1_000, sent_ms=seq * 1.0))
        if seq % 7 != 0:  # every seventh lost
            rx.on_packet(seq, 938, seq * 1.0, seq * 1.0 + 30.0)
    due = rx.next_time()
    assert due is not None
    messages = rx.poll(70_100.0)
    assert messages and all(isinstance(m.body, bytes) for m in messages)
    results = []
    for m in messages:
        assert isinstance(m.body, bytes)
        assert m.size_bytes == len(m.body) + RTCP_OVERHEAD_BYTES
        parsed = parse_rtcp_transport_cc(m.body)
        assert parsed is not None
        assert m.event() == TransportCc(parsed)  # parsed at the sender's edge
        results += adapter.on_feedback(parsed, 70_100.0)
    assert [r.transport_seq for r in results] == list(range(70_000 - 5, 70_000 + 20))
    for r in results:
        if r.transport_seq % 7 == 0:
            assert r.lost
        else:
            assert r.arrived_ms is not None
    arrivals = [r.arrived_ms - r.sent_ms for r in results if r.arrived_ms is not None]
    assert max(arrivals) - min(arrivals) < 0.25 + 1e-9  # 250 µs ticks
    assert rx.poll(70_110.0) == []  # nothing new, nothing due


def test_remb_from_receiver_model() -> None:
    rx = RembFeedback()
    assert rx.next_time() is None
    out = []
    # 1 Mbit/s of 1,000-byte packets, arriving 40 ms after sending, for 5 s.
    for i in range(625):
        t = i * 8.0
        rx.on_packet(i, 1_000, t, t + 40.0)
        out += rx.poll(t + 40.0)
    assert out and all(isinstance(m.body, Remb) and m.body.bitrate_bps > 0 for m in out)


def _kinds_sent(transport_cc: bool) -> set[type]:
    """What the receiver sends for 3 s of steady media, then 2 s of a growing queue."""
    rx = receiver_feedback(transport_cc)
    kinds: set[type] = set()
    for i in range(625):
        t = i * 8.0
        queued = max(0.0, t - 3_000.0) * 0.5  # after 3 s, each packet waits 4 ms longer
        rx.on_packet(i, 1_000, t, t + 40.0 + queued)
        due = rx.next_time()
        messages = rx.poll(t + 40.0 + queued if due is None else max(due, t + 40.0 + queued))
        kinds |= {type(m.event()) for m in messages}
    return kinds


def test_the_receiver_sends_aiortcs_remb_whatever_the_sender() -> None:
    """aiortc's receiver sends REMB in every real call (one per packet while it over-uses);
    transport-cc comes with it only when the sender stamps transport-wide sequence numbers."""
    assert _kinds_sent(transport_cc=True) == {TransportCc, Remb}
    assert _kinds_sent(transport_cc=False) == {Remb}


def test_nack_and_pli_are_typed_events() -> None:
    nack = nack_message([40, 3, 19])
    assert nack.event() == Nack((3, 19, 40))
    assert nack.size_bytes == 12 + 2 * 4 + RTCP_OVERHEAD_BYTES  # 3 and 19 share an FCI
    assert pli_message().event() == Pli()
    assert FeedbackMessage(b"not rtcp", 8).event() is None  # refused at the edge
