from ratecontrol.inter_arrival import InterArrival
from ratecontrol.types import PacketResult


def _pkt(seq: int, sent: float, arrived: float | None, size: int = 1000) -> PacketResult:
    return PacketResult(transport_seq=seq, size_bytes=size, sent_ms=sent, arrived_ms=arrived)


def test_packets_within_5ms_form_one_group_and_deltas_follow() -> None:
    ia = InterArrival()
    deltas = []
    seq = 0
    # Three frames 33 ms apart, each of 3 packets sent 1 ms apart; the path adds 2 ms per frame.
    for frame in range(4):
        for i in range(3):
            sent = frame * 33.0 + i
            d = ia.add(_pkt(seq, sent, 100.0 + sent + 2.0 * frame))
            seq += 1
            if d is not None:
                deltas.append(d)
    # The first delta appears when the third group starts (previous and current both closed).
    assert len(deltas) == 2
    for d in deltas:
        assert d.send_delta_ms == 33.0
        assert d.arrival_delta_ms == 35.0
        assert d.size_delta_bytes == 0


def test_burst_behind_a_queue_joins_the_group() -> None:
    ia = InterArrival()
    # Group A sent at 0..1, group B sent at 10..11, but B arrived right behind A (a queue drained).
    assert ia.add(_pkt(0, 0.0, 50.0)) is None
    assert ia.add(_pkt(1, 1.0, 51.0)) is None
    assert ia.add(_pkt(2, 10.0, 52.0)) is None  # arrived 1 ms later though sent 9 ms later
    assert ia.add(_pkt(3, 11.0, 52.5)) is None
    # A packet sent 40 ms later and arriving late opens a new group.
    assert ia.add(_pkt(4, 40.0, 95.0)) is None
    d = ia.add(_pkt(5, 80.0, 135.0))
    assert d is not None
    assert d.send_delta_ms == 40.0 - 11.0
    assert d.arrival_delta_ms == 95.0 - 52.5
    assert d.size_delta_bytes == 1000 - 4000


def test_reordered_and_lost_packets_are_ignored() -> None:
    ia = InterArrival()
    ia.add(_pkt(0, 0.0, 10.0))
    ia.add(_pkt(1, 20.0, 30.0))
    assert ia.add(_pkt(2, 5.0, 31.0)) is None  # sent before the current group began
    assert ia.add(_pkt(3, 40.0, None)) is None
    d = ia.add(_pkt(4, 40.0, 50.0))
    assert d is not None and d.send_delta_ms == 20.0 and d.arrival_delta_ms == 20.0


def test_long_arrival_gap_resets() -> None:
    ia = InterArrival()
    ia.add(_pkt(0, 0.0, 10.0))
    ia.add(_pkt(1, 20.0, 30.0))
    # 5 s outage: state is reset, so no delta spans the gap.
    assert ia.add(_pkt(2, 40.0, 5030.0)) is None
    assert ia.add(_pkt(3, 60.0, 5050.0)) is None
    d = ia.add(_pkt(4, 80.0, 5070.0))
    assert d is not None and d.arrival_delta_ms == 20.0
