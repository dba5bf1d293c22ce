from experiments.sim.packetizer import MediaPacket, packetize
from experiments.sim.receiver_model import DECODE_MS, ReceiverConfig, ReceiverModel


def _packets(frames: list[tuple[int, bool]]) -> list[MediaPacket]:
    """frames: (size, keyframe) in send order -> their packets, RTP seqs from 0."""
    out: list[MediaPacket] = []
    for index, (size, key) in enumerate(frames):
        out += packetize(index, size, key, first_rtp_seq=len(out))
    return out


def _feed(rx: ReceiverModel, packets: list[MediaPacket], drop=(), t0=0.0, step=1.0):
    """Deliver packets 1 ms apart except those whose RTP seq is in `drop`; run timers."""
    shown: list[int] = []
    t = t0
    for p in packets:
        t += step
        rx.on_timer(t)
        if p.rtp_seq in drop:
            continue
        shown += [s.frame_index for s in rx.on_packet(p, t)]
    return shown, t


NO_NACK = ReceiverConfig(nack=False, pli_retry_ms=100.0)
FRAMES = [(3_000, True), (2_000, False), (2_000, False), (2_000, False), (9_000, True),
          (2_000, False)]


def test_all_frames_shown_without_loss() -> None:
    rx = ReceiverModel()
    shown, _ = _feed(rx, _packets([(5_000, True)] + [(2_000, False)] * 5))
    assert shown == [0, 1, 2, 3, 4, 5]
    assert rx.next_timer() is None and rx.packets_given_up == 0


def test_shown_after_decode_cost() -> None:
    rx = ReceiverModel()
    out = rx.on_packet(packetize(0, 100, True)[0], 10.0)
    assert out and out[0].shown_ms == 10.0 + DECODE_MS


def test_without_nack_loss_breaks_chain_until_keyframe() -> None:
    rx = ReceiverModel(NO_NACK)
    packets = _packets(FRAMES)
    first_of_frame_1 = next(p.rtp_seq for p in packets if p.frame_index == 1)
    shown, _ = _feed(rx, packets, drop={first_of_frame_1})
    assert shown == [0, 4, 5]
    assert rx.packets_given_up == 1
    assert rx.poll_nacks(1e6) == []


def test_pli_timer_and_retry() -> None:
    rx = ReceiverModel(NO_NACK)
    packets = _packets(FRAMES[:3])
    lost = next(p.rtp_seq for p in packets if p.frame_index == 1 and p.index_in_frame == 1)
    _feed(rx, packets, drop={lost})
    due = rx.next_timer()
    assert due is not None
    assert rx.poll_pli(due) is True
    assert rx.poll_pli(due + 50) is False
    assert rx.poll_pli(due + 100) is True
    assert rx.plis_sent == 2
    # A keyframe arriving clears the request.
    for p in packetize(3, 4_000, True, first_rtp_seq=packets[-1].rtp_seq + 1):
        rx.on_packet(p, due + 200)
    assert rx.next_timer() is None


def test_lost_tail_and_whole_frames_detected() -> None:
    rx = ReceiverModel(NO_NACK)
    packets = _packets([(1_000, True), (2_400, False), (1_000, False), (1_000, False),
                        (1_000, False)])
    tail_of_1 = next(p.rtp_seq for p in packets if p.frame_index == 1 and p.index_in_frame == 1)
    all_of_3 = next(p.rtp_seq for p in packets if p.frame_index == 3)
    shown, _ = _feed(rx, packets, drop={tail_of_1, all_of_3})
    assert shown == [0]
    assert rx.packets_given_up == 2


def test_first_keyframe_lost_needs_pli() -> None:
    rx = ReceiverModel(NO_NACK)
    shown, _ = _feed(rx, _packets([(1_000, True), (1_000, False)]), drop={0})
    assert shown == []
    assert rx.next_timer() is not None


def test_nack_recovers_and_later_frames_wait_for_it() -> None:
    rx = ReceiverModel(ReceiverConfig(nack_retry_ms=50.0))
    packets = _packets(FRAMES[:4])
    lost = next(p for p in packets if p.frame_index == 1)
    shown, t = _feed(rx, packets, drop={lost.rtp_seq})
    assert shown == [0]  # frames 2 and 3 arrived complete but wait for frame 1
    assert rx.poll_nacks(t) == [lost.rtp_seq]
    assert rx.poll_nacks(t + 10) == []  # not again before the retry interval
    assert rx.poll_nacks(t + 50) == [lost.rtp_seq]
    out = rx.on_packet(lost, t + 60)  # the retransmission
    assert [s.frame_index for s in out] == [1, 2, 3]
    assert all(s.shown_ms == t + 60 + DECODE_MS for s in out)
    assert rx.packets_recovered == 1 and rx.next_timer() is None and rx.plis_sent == 0
    assert rx.on_packet(lost, t + 70) == []  # a duplicate changes nothing


def test_nack_gives_up_then_pli_and_keyframe_jump() -> None:
    rx = ReceiverModel(ReceiverConfig(nack_retry_ms=100.0, nack_give_up_ms=500.0))
    packets = _packets(FRAMES)
    lost = next(p.rtp_seq for p in packets if p.frame_index == 2)
    last_delta = [p for p in packets if p.frame_index == 5]
    shown, t = _feed(rx, [p for p in packets if p.frame_index < 4], drop={lost})
    assert shown == [0, 1]
    rx.poll_nacks(t)
    rx.on_timer(t + 450)
    assert rx.poll_pli(t + 450) is False
    rx.on_timer(t + 1_000)
    assert rx.packets_given_up == 1
    assert rx.poll_pli(t + 1_000) is True
    # The keyframe (frame 4) arrives: the decoder jumps to it; frame 5 follows.
    key = [p for p in packets if p.frame_index == 4]
    shown, _ = _feed(rx, key + last_delta, t0=t + 1_100)
    assert shown == [4, 5]
    assert rx.frames_dropped == 2  # frames 2 and 3


def test_nack_retries_are_bounded() -> None:
    rx = ReceiverModel(ReceiverConfig(nack_retry_ms=10.0, nack_max_retries=3,
                                      nack_give_up_ms=10_000.0))
    packets = _packets(FRAMES[:3])
    _, t = _feed(rx, packets, drop={packets[-1].rtp_seq - 1})
    asked = sum(len(rx.poll_nacks(t + 10 * k)) for k in range(10))
    assert asked == 3
    rx.on_timer(t + 100)
    assert rx.packets_given_up == 1 and rx.next_timer() is not None  # the PLI
