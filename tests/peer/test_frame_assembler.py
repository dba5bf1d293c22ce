from peer.frame_assembler import (
    MAX_REPAIR_WAITS,
    AssemblerStats,
    FrameAssembler,
    IncomingPacket,
)

FRAME_TICKS = 3000  # 90 kHz at 30 fps


def packets_of(frame_index: int, first_seq: int, count: int, keyframe: bool = False
               ) -> list[IncomingPacket]:
    timestamp = frame_index * FRAME_TICKS
    return [IncomingPacket(sequence_number=(first_seq + i) % 65536, timestamp=timestamp,
                           marker=i == count - 1, frame_start=i == 0,
                           keyframe=keyframe and i == 0, data=bytes([frame_index % 256, i]))
            for i in range(count)]


def feed(assembler: FrameAssembler, packets: list[IncomingPacket], now_ms: float = 0.0):
    out = [assembler.add(p, now_ms) for p in packets]
    return [pli for pli, _ in out], [f for _, ready in out for f in ready]


def test_a_frame_is_released_on_its_last_packet() -> None:
    assembler = FrameAssembler()
    plis, frames = feed(assembler, packets_of(0, 100, 3, keyframe=True))
    assert frames and frames[0].timestamp == 0 and frames[0].keyframe
    assert frames[0].data == bytes([0, 0, 0, 1, 0, 2])
    plis, frames = feed(assembler, packets_of(1, 103, 2))
    assert [f.timestamp for f in frames] == [FRAME_TICKS]  # at once, not when frame 2 starts
    assert not any(plis)


def test_reordered_packets_still_make_the_frame() -> None:
    assembler = FrameAssembler()
    first = packets_of(0, 10, 4, keyframe=True)
    _, frames = feed(assembler, [first[0], first[2], first[3], first[1]])
    assert len(frames) == 1 and frames[0].data == bytes([0, 0, 0, 1, 0, 2, 0, 3])


def test_duplicates_and_old_packets_are_ignored() -> None:
    assembler = FrameAssembler()
    key = packets_of(0, 10, 2, keyframe=True)
    _, frames = feed(assembler, key + key)
    assert len(frames) == 1


def test_frames_wait_for_a_retransmission_then_go_in_order() -> None:
    assembler = FrameAssembler(max_wait_ms=150)
    feed(assembler, packets_of(0, 0, 2, keyframe=True), 0)
    frame1 = packets_of(1, 2, 3)
    _, frames = feed(assembler, [frame1[0], frame1[2]], 33)  # middle packet lost
    assert frames == []
    _, frames = feed(assembler, packets_of(2, 5, 2), 66)  # complete, but needs frame 1
    assert frames == []
    pli, ready = assembler.add(frame1[1], 100)  # the retransmission arrives in time
    # frame 2 was complete behind it: both go to the decoder now, in order
    assert not pli and [f.timestamp for f in ready] == [FRAME_TICKS, 2 * FRAME_TICKS]


def test_a_gap_too_old_is_abandoned_and_a_keyframe_requested() -> None:
    assembler = FrameAssembler(max_wait_ms=150)
    feed(assembler, packets_of(0, 0, 2, keyframe=True), 0)
    frame1 = packets_of(1, 2, 3)
    feed(assembler, [frame1[0], frame1[2]], 33)
    feed(assembler, packets_of(2, 5, 2), 66)
    plis, frames = feed(assembler, packets_of(3, 7, 2), 300)  # 234 ms after frame 2 completed
    assert any(plis) and frames == []
    assert assembler.stats.frames_abandoned >= 2
    assert assembler.stats.keyframe_requests == 1
    plis, frames = feed(assembler, packets_of(4, 9, 2), 320)  # delta frames are not decodable
    assert frames == [] and not any(plis)  # PLIs are rate-limited
    _, frames = feed(assembler, packets_of(5, 11, 3, keyframe=True), 340)
    assert [f.timestamp for f in frames] == [5 * FRAME_TICKS]


def _burst_behind_a_later_frame(assembler: FrameAssembler) -> list[IncomingPacket]:
    """Frame 1 loses its 10 middle packets; frame 2, complete at 66 ms, waits behind it.
    Returns the lost packets."""
    feed(assembler, packets_of(0, 0, 2, keyframe=True), 0)
    frame1 = packets_of(1, 2, 12)
    feed(assembler, [frame1[0], frame1[-1]], 33)
    feed(assembler, packets_of(2, 14, 2), 66)
    return frame1[1:-1]


def test_a_burst_repaired_past_the_wait_is_kept_while_its_resends_keep_coming() -> None:
    assembler = FrameAssembler(max_wait_ms=150)
    lost = _burst_behind_a_later_frame(assembler)
    ready = []
    for i, packet in enumerate(lost):  # one resend every 20 ms, from 110 to 290 ms
        pli, frames = assembler.add(packet, 110 + 20 * i)
        assert not pli
        ready += frames
    assert [f.timestamp for f in ready] == [FRAME_TICKS, 2 * FRAME_TICKS]
    assert assembler.stats.packets_recovered == len(lost)


def test_a_burst_whose_resends_stop_is_abandoned_a_wait_after_the_last_one() -> None:
    assembler = FrameAssembler(max_wait_ms=150)
    lost = _burst_behind_a_later_frame(assembler)
    feed(assembler, lost[:5], 200)  # half the resends, then no more
    plis, _ = feed(assembler, packets_of(3, 16, 2), 340)  # 140 ms later: still waiting
    assert not any(plis)
    plis, frames = feed(assembler, packets_of(4, 18, 2), 360)  # 160 ms: given up
    assert any(plis) and frames == []


def test_resends_of_other_gaps_extend_the_wait_only_so_far() -> None:
    assembler = FrameAssembler(max_wait_ms=150)
    lost = _burst_behind_a_later_frame(assembler)
    seq, pli_at = 16, None
    for k in range(3, 40):  # frame k loses its middle packet, resent 10 ms later
        t = 33.0 * k
        frame = packets_of(k, seq, 3)
        seq += 3
        plis, _ = feed(assembler, [frame[0], frame[2]], t)
        plis += feed(assembler, [frame[1]], t + 10)[0]
        if any(plis) and pli_at is None:
            pli_at = t
    assert lost and pli_at is not None  # frame 1's resends never came
    cap_ms = MAX_REPAIR_WAITS * assembler.max_wait_ms
    assert 66 + cap_ms <= pli_at + 10 <= 66 + cap_ms + 2 * 33


def test_decoding_starts_at_a_keyframe() -> None:
    assembler = FrameAssembler()
    plis, frames = feed(assembler, packets_of(7, 50, 2), 0)  # joined mid-stream
    assert frames == [] and any(plis)
    _, frames = feed(assembler, packets_of(8, 52, 2, keyframe=True), 10)
    assert [f.keyframe for f in frames] == [True]


def test_sequence_numbers_wrap() -> None:
    assembler = FrameAssembler()
    _, frames = feed(assembler, packets_of(0, 65534, 4, keyframe=True))
    assert len(frames) == 1
    _, frames = feed(assembler, packets_of(1, 2, 2))
    assert len(frames) == 1


def test_memory_stays_bounded_under_loss() -> None:
    assembler = FrameAssembler()
    for i in range(3000):  # every frame loses its marker packet: nothing ever completes
        for packet in packets_of(i, i * 3, 3)[:2]:
            assembler.add(packet, i * 33.0)
    assert len(assembler._frames) < 1100


def test_one_stray_packet_far_ahead_costs_a_keyframe_not_the_stream() -> None:
    """A single packet 20,000 numbers ahead (a hostile or broken sender) used to make every
    later packet look old: nothing was decoded again until the numbers caught up."""
    assembler = FrameAssembler()
    _, frames = feed(assembler, packets_of(0, 100, 2, keyframe=True) + packets_of(1, 102, 2))
    assert len(frames) == 2
    feed(assembler, [IncomingPacket(20_102, 999, True, True, True, b"x")], 10.0)
    plis, frames = feed(assembler, packets_of(2, 104, 2) + packets_of(3, 106, 2), 20.0)
    assert frames == [] and any(plis)  # deltas cannot be decoded: a keyframe is asked for
    _, frames = feed(assembler, packets_of(4, 108, 3, keyframe=True) + packets_of(5, 111, 2),
                     400.0)
    assert [f.timestamp for f in frames] == [4 * FRAME_TICKS, 5 * FRAME_TICKS]
    assert assembler.stats.frames_abandoned >= 1


def test_a_sender_restarting_its_sequence_numbers_resumes_at_its_keyframe() -> None:
    assembler = FrameAssembler()
    feed(assembler, packets_of(0, 40_000, 2, keyframe=True) + packets_of(1, 40_002, 2))
    _, early = feed(assembler, packets_of(10, 5, 2, keyframe=True), 50.0)
    _, later = feed(assembler, packets_of(11, 7, 2), 250.0)  # after the gap's max wait
    assert [f.timestamp for f in early + later] == [10 * FRAME_TICKS, 11 * FRAME_TICKS]


def test_stats_count_missing_packets_and_those_recovered_in_time() -> None:
    stats = AssemblerStats()
    assembler = FrameAssembler(max_wait_ms=150, stats=stats)
    feed(assembler, packets_of(0, 0, 2, keyframe=True), 0)
    frame1 = packets_of(1, 2, 3)
    feed(assembler, [frame1[0], frame1[2]], 33)  # seq 3 missing
    feed(assembler, packets_of(2, 5, 2), 66)
    assert (stats.packets_missing, stats.packets_recovered) == (1, 0)
    feed(assembler, [frame1[1]], 90)  # the retransmission, in time
    assert (stats.packets_missing, stats.packets_recovered) == (1, 1)
    frame3, frame4 = packets_of(3, 7, 3), packets_of(4, 10, 2)
    feed(assembler, [frame3[0], frame3[2]], 100)  # seq 8 missing
    feed(assembler, frame4, 110)
    feed(assembler, packets_of(5, 12, 2), 400)  # too late: frames 3 and 4 are abandoned
    feed(assembler, [frame3[1]], 410)  # the retransmission no longer counts
    assert (stats.packets_missing, stats.packets_recovered) == (2, 1)
    assert stats.frames_abandoned >= 2


def test_a_sequence_jump_is_not_counted_as_loss() -> None:
    assembler = FrameAssembler()
    feed(assembler, packets_of(0, 0, 2, keyframe=True), 0)
    feed(assembler, packets_of(1, 30000, 2, keyframe=True), 10)
    assert assembler.stats.packets_missing == 0


def test_a_packet_still_missing_is_asked_for_again_while_its_frame_waits() -> None:
    assembler = FrameAssembler(max_wait_ms=150)
    feed(assembler, packets_of(0, 65534, 2, keyframe=True), 0)
    frame1 = packets_of(1, 0, 3)  # the sequence wraps: 65534, 65535, 0, 1, 2
    feed(assembler, [frame1[0], frame1[2]], 33)  # seq 1 missing (aiortc NACKs it now)
    assert assembler.nacks_due(60) == []  # asked 27 ms ago: its retransmission may be coming
    assert assembler.nacks_due(90) == [1]
    assert assembler.nacks_due(100) == []  # once per retry interval
    assert assembler.nacks_due(140) == [1]
    assembler.add(frame1[1], 150)
    assert assembler.nacks_due(300) == []  # it came
    assert assembler.stats.nack_retries == 2


def test_receive_asks_again_only_with_nack_on() -> None:
    for nack in (True, False):
        assembler = FrameAssembler(max_wait_ms=150)
        for packet in packets_of(0, 0, 2, keyframe=True):
            assembler.receive(packet, 0.0, nack)
        frame1 = packets_of(1, 2, 3)
        assembler.receive(frame1[0], 33.0, nack)
        arrival = assembler.receive(frame1[2], 34.0, nack)  # seq 3 missing
        assert arrival.nack_again == [] and arrival.frames == [] and not arrival.pli
        arrival = assembler.receive(packets_of(2, 5, 1)[0], 90.0, nack)
        assert arrival.nack_again == ([3] if nack else [])


def test_a_repair_frees_every_complete_frame_behind_it_at_once() -> None:
    # Handing out one frame per packet, as aiortc's jitter buffer does, delays every later
    # frame by the backlog a repair leaves: at one packet a frame it never drains.
    assembler = FrameAssembler(max_wait_ms=150)
    feed(assembler, packets_of(0, 0, 1, keyframe=True), 0)
    frame1 = packets_of(1, 1, 2)
    _, waiting = feed(assembler, [frame1[1], *packets_of(2, 3, 1), *packets_of(3, 4, 1)], 33)
    assert waiting == []  # frames 2 and 3 wait for frame 1
    _, ready = assembler.add(frame1[0], 40)
    assert [f.timestamp for f in ready] == [FRAME_TICKS, 2 * FRAME_TICKS, 3 * FRAME_TICKS]
