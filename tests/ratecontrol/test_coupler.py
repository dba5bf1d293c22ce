import itertools

import pytest

from ratecontrol.coupler import STALE_FEEDBACK_MS, CouplerConfig, FrameBudgetCoupler
from ratecontrol.types import PacketResult, SentPacket

FRAME_MS = 1000.0 / 30.0


def _through_link(
    coupler: FrameBudgetCoupler, start_seq: int, t_ms: float, sizes: list[int], link_bps: float,
    free_ms: float,
) -> tuple[list[PacketResult], float]:
    """Send packets back to back at `t_ms` through a `link_bps` bottleneck, 20 ms away."""
    results = []
    for i, size in enumerate(sizes):
        coupler.on_packet_sent(SentPacket(start_seq + i, size, t_ms))
        free_ms = max(free_ms, t_ms) + size * 8000.0 / link_bps
        results.append(PacketResult(start_seq + i, size, t_ms, free_ms + 20.0))
    return results, free_ms


def test_budget_is_rate_times_interval_before_any_feedback() -> None:
    coupler = FrameBudgetCoupler()
    d = coupler.decide(1_200_000, None, None, 10.0, FRAME_MS)
    assert d.send and d.target_bytes == pytest.approx(5000, abs=1)
    # without a measured link rate no standing queue is allowed; keyframes may take 150 ms
    assert d.max_keyframe_bytes == pytest.approx(1_200_000 / 8000 * 150, abs=1)


def test_capacity_is_measured_from_packets_that_waited() -> None:
    coupler = FrameBudgetCoupler()
    free = 0.0
    seq = 0
    for k in range(20):
        t = k * FRAME_MS
        results, free = _through_link(coupler, seq, t, [1200] * 4, 1_000_000, free)
        seq += 4
        coupler.on_feedback(results, t + 60.0)
    capacity = coupler.capacity_bps()
    assert capacity == pytest.approx(1_000_000, rel=0.01)


def test_a_link_faster_than_the_sender_gives_no_capacity_estimate() -> None:
    coupler = FrameBudgetCoupler()
    for k in range(20):
        t = k * 10.0
        coupler.on_packet_sent(SentPacket(k, 1200, t))
        coupler.on_feedback([PacketResult(k, 1200, t, t + 20.0)], t + 40.0)
    assert coupler.capacity_bps() is None
    assert coupler.queue_delay_ms == 0.0


def test_queued_bytes_reduce_the_budget_and_a_long_queue_skips() -> None:
    coupler = FrameBudgetCoupler(
        CouplerConfig(min_queue_bytes=0, target_delay_ms=0.0, congested_frame_bytes=0)
    )
    # First packet: base delay 20 ms. Then 30 KB sent in one burst at 100 ms into a 1 Mbit/s
    # link: feedback about its first packets shows them waiting.
    coupler.on_packet_sent(SentPacket(0, 1200, 0.0))
    coupler.on_feedback([PacketResult(0, 1200, 0.0, 20.0)], 40.0)
    results, _ = _through_link(coupler, 1, 100.0, [1200] * 25, 1_000_000, 0.0)
    queued_now = coupler.queued_bytes(1_000_000, 101.0)
    assert queued_now == pytest.approx(30_000 - 125, rel=0.01)  # 1 ms of drain so far
    d = coupler.decide(1_000_000, 1_000_000, None, 101.0, FRAME_MS)
    assert not d.send  # 30 KB ahead: far more than one frame interval of the link
    # Feedback arrives: the 10th packet waited 9 x 9.6 ms behind its burst-mates.
    coupler.on_feedback(results[:10], 200.0)
    assert coupler.queue_delay_ms == pytest.approx(9 * 9.6 + 9.6, abs=0.5)
    # 300 ms later everything has drained: the full budget is back.
    d = coupler.decide(1_000_000, 1_000_000, None, 400.0, FRAME_MS)
    coupler.on_feedback(results[10:], 400.0)
    d = coupler.decide(1_000_000, 1_000_000, None, 500.0, FRAME_MS)
    assert d.send


def test_skipped_frames_give_no_credit_by_default_and_up_to_the_configured_share() -> None:
    # A frame twice the size after a skip queues behind itself: by default a skipped frame's
    # share is gone (measured: p95 signal delay on Verizon-LTE-short 177 -> 153 ms).
    for credit_frames, expected in ((1.0, 1.0), (2.0, 2.0)):
        coupler = FrameBudgetCoupler(CouplerConfig(max_credit_frames=credit_frames))
        first = coupler.decide(800_000, None, None, 0.0, FRAME_MS)
        coupler.on_frame_encoded(first.target_bytes)
        for i in range(4):  # the pacer sends it
            coupler.on_packet_sent(SentPacket(i, first.target_bytes // 4 + 10, 1.0))
        assert coupler.pacer_backlog_bytes() == 0
        later = coupler.decide(800_000, None, None, 10 * FRAME_MS, FRAME_MS)  # all landed
        assert later.target_bytes == pytest.approx(expected * first.target_bytes, abs=2)


def test_pacer_backlog_counts_as_queued() -> None:
    coupler = FrameBudgetCoupler(CouplerConfig(congested_frame_bytes=0))
    coupler.on_frame_encoded(10_000)
    coupler.on_packet_sent(SentPacket(0, 1250, 0.0))
    assert coupler.pacer_backlog_bytes() == 8750
    d = coupler.decide(1_200_000, None, None, 0.0, FRAME_MS)
    assert not d.send  # 5000-byte budget, 8750 still waiting to leave plus 1250 in flight


def _queue_of(coupler: FrameBudgetCoupler, wait_ms: float) -> None:
    """Base delay 20 ms; then, at 100 ms, `wait_ms` worth of 1200-byte packets into a 1 Mbit/s
    link (9.6 ms each), of which the first was just acknowledged at 120 ms."""
    coupler.on_packet_sent(SentPacket(0, 1200, 0.0))
    coupler.on_feedback([PacketResult(0, 1200, 0.0, 20.0)], 40.0)
    results, _ = _through_link(coupler, 1, 100.0, [1200] * int(wait_ms / 9.6), 1_000_000, 0.0)
    coupler.on_feedback(results[:1], 130.0)


def test_a_short_congestion_gets_a_small_frame_rather_than_a_skip() -> None:
    # The frame is seen behind the queue either way; skipped, it is seen only as the next one.
    coupler = FrameBudgetCoupler(CouplerConfig(min_queue_bytes=0, target_delay_ms=0.0))
    _queue_of(coupler, 200.0)
    d = coupler.decide(1_000_000, 1_000_000, None, 131.0, FRAME_MS)
    assert d.send and d.target_bytes == coupler.config.congested_frame_bytes


def test_a_long_congestion_or_a_slow_link_still_skips() -> None:
    # Seconds behind (an outage's aftermath), a small frame helps no delay and shows a poor
    # picture; on a slow link 300 bytes a frame would be too much of what drains.
    coupler = FrameBudgetCoupler(CouplerConfig(min_queue_bytes=0, target_delay_ms=0.0))
    _queue_of(coupler, 500.0)
    assert not coupler.decide(1_000_000, 1_000_000, None, 131.0, FRAME_MS).send
    coupler = FrameBudgetCoupler(CouplerConfig(min_queue_bytes=0, target_delay_ms=0.0))
    _queue_of(coupler, 200.0)
    assert not coupler.decide(50_000, 50_000, None, 131.0, FRAME_MS).send
    # Nothing heard for 270 ms: an outage may have begun, and each small frame would be one
    # more packet behind it.
    coupler = FrameBudgetCoupler(CouplerConfig(min_queue_bytes=0, target_delay_ms=0.0))
    _queue_of(coupler, 200.0)
    assert not coupler.decide(1_000_000, 1_000_000, None, 400.0, FRAME_MS).send
    # A loss reported: its resends are pending, and frames after it cannot be shown yet.
    coupler = FrameBudgetCoupler(CouplerConfig(min_queue_bytes=0, target_delay_ms=0.0))
    _queue_of(coupler, 200.0)
    coupler.on_feedback([PacketResult(900, 1200, 120.0, None)], 130.0)
    assert not coupler.decide(1_000_000, 1_000_000, None, 131.0, FRAME_MS).send


def test_the_first_packet_of_a_frame_reports_the_wait_its_frame_expects() -> None:
    coupler = FrameBudgetCoupler(CouplerConfig(min_queue_bytes=0, target_delay_ms=0.0))
    _queue_of(coupler, 96.0)  # ten packets at 100 ms: nine still queued at 130 ms
    d = coupler.decide(1_000_000, 1_000_000, None, 131.0, FRAME_MS)
    coupler.on_frame_encoded(2400)
    first = coupler.on_packet_sent(SentPacket(11, 1200, 131.0))
    second = coupler.on_packet_sent(SentPacket(12, 1200, 131.0))
    assert d.send and second is None
    # Behind the acknowledged packet (it left the link at 109.6 ms): 9 x 1200 bytes, drained
    # for 21.4 ms by 131 ms; plus two packets' time.
    assert first == pytest.approx((9 * 1200 - 21.4 * 125 + 2 * 1200) * 8 / 1000, abs=0.5)
    assert coupler.on_packet_sent(SentPacket(13, 160, 132.0, is_audio=True)) is None


def _sent_while_silent(coupler: FrameBudgetCoupler, rate_bps: float, start_ms: float,
                       frames: int, seq: int, encoded_bytes: int = 0) -> list[SentPacket]:
    """One decision per frame interval for `frames` intervals after `start_ms`, no feedback:
    each frame the coupler allows is encoded to its target, or to `encoded_bytes` when that is
    set (an encoder that cannot go lower), and sent at once as packet `seq`, `seq` + 1, ..."""
    sent = []
    for k in range(1, frames + 1):
        t = start_ms + k * FRAME_MS
        d = coupler.decide(rate_bps, coupler.capacity_bps(), None, t, FRAME_MS)
        if d.send:
            packet = SentPacket(seq + len(sent), encoded_bytes or d.target_bytes, t)
            coupler.on_frame_encoded(packet.size_bytes)
            coupler.on_packet_sent(packet)
            sent.append(packet)
    return sent


def _silent_frames(coupler: FrameBudgetCoupler, rate_bps: float, encoded_bytes: int = 0
                   ) -> list[tuple[float, int]]:
    """5 s without feedback after one report of an empty path: the frames the coupler sends
    (time, bytes), each sent at once, so all of them stay unacknowledged. Each is encoded to
    its target, or to `encoded_bytes` when that is set (an encoder that cannot go lower)."""
    coupler.on_packet_sent(SentPacket(0, 1200, 0.0))
    coupler.on_feedback([PacketResult(0, 1200, 0.0, 20.0)], 40.0)
    sent = _sent_while_silent(coupler, rate_bps, 40.0, 149, 1, encoded_bytes)
    return [(p.sent_ms, p.size_bytes) for p in sent if p.sent_ms > 1100.0]  # after stale


def test_stale_feedback_allows_small_frames_while_their_backlog_is_small() -> None:
    # 1 Mbit/s: 300 ms of it is 37.5 KB, more than 40 frames of 200 bytes (a feedback
    # outage on a link that still carries the media: the picture keeps moving)
    coupler = FrameBudgetCoupler()
    frames = _silent_frames(coupler, 1_000_000)
    assert 35 <= len(frames) <= 41
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(frames)]
    assert min(gaps) >= coupler.config.quiet_frame_interval_ms - 1e-6
    assert all(size == coupler.config.min_frame_bytes for _, size in frames)


def test_stale_feedback_allows_one_small_frame_per_second_once_the_backlog_is_large() -> None:
    # 40 kbit/s: 300 ms of it is 1.5 KB, so after a few 200-byte frames the silence may be an
    # outage holding them all, and one frame a second is the most it gets
    coupler = FrameBudgetCoupler()
    frames = _silent_frames(coupler, 40_000)
    late = [f for f in frames if f[0] > 2500.0]
    assert 2 <= len(late) <= 3
    assert all(size == coupler.config.min_frame_bytes for _, size in frames)


def test_stale_feedback_sends_frames_larger_than_asked_no_faster_than_the_quiet_rate() -> None:
    # An encoder whose smallest frame is 2 KB: at 40 kbit/s one per 400 ms, not per 100 ms
    # (ten a second would be 160 kbit/s into what may be a dead link)
    coupler = FrameBudgetCoupler()
    frames = _silent_frames(coupler, 10_000_000, encoded_bytes=2000)
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(frames)]
    assert min(gaps) >= 400.0 - 1e-6
    sent_bps = 8000.0 * sum(size for _, size in frames[1:]) / (frames[-1][0] - frames[0][0])
    assert sent_bps <= coupler.config.quiet_rate_bps
    assert len(frames) >= 8  # still a sign of life at that rate, not one a second


def _long_wait_report(coupler: FrameBudgetCoupler) -> float:
    """Base delay 20 ms, then 30 x 1200 bytes at 100 ms into a 1 Mbit/s link: the newest
    packet (sent at 100 ms) waited 288 ms. Returns when the feedback arrived."""
    coupler.on_packet_sent(SentPacket(0, 1200, 0.0))
    coupler.on_feedback([PacketResult(0, 1200, 0.0, 20.0)], 40.0)
    results, free = _through_link(coupler, 1, 100.0, [1200] * 30, 1_000_000, 0.0)
    coupler.on_feedback(results, free + 40.0)
    assert coupler.queue_delay_ms == pytest.approx(288, abs=1)
    return free + 40.0


def test_a_reported_wait_lapses_once_the_queue_it_saw_has_drained() -> None:
    coupler = FrameBudgetCoupler()
    fed_ms = _long_wait_report(coupler)
    capacity = coupler.capacity_bps()
    assert capacity == pytest.approx(1_000_000, rel=0.01)
    # One small packet since: 340 ms after the reported packet left, its 288 ms are gone.
    coupler.on_packet_sent(SentPacket(31, 300, fed_ms))
    now = fed_ms + 10.0
    assert coupler.projected_wait_ms(capacity, now) == pytest.approx(2 * 300 * 8 / 1000, abs=0.1)
    assert coupler.decide(1_000_000, capacity, None, now, FRAME_MS).send


def test_a_reported_wait_holds_while_bytes_sent_since_may_still_wait() -> None:
    coupler = FrameBudgetCoupler()
    fed_ms = _long_wait_report(coupler)
    capacity = coupler.capacity_bps()
    for i in range(20):  # 24 KB since the reported packet: 2 x 192 ms at the link rate
        coupler.on_packet_sent(SentPacket(31 + i, 1200, fed_ms))
    now = fed_ms + 10.0
    assert coupler.projected_wait_ms(capacity, now) == pytest.approx(288, abs=1)
    # Without a measured link rate there is nothing to project with: the report stands.
    assert coupler.projected_wait_ms(None, now) == coupler.queue_delay_ms
    assert not coupler.decide(1_000_000, capacity, None, now, FRAME_MS).send


def _busy_link(coupler: FrameBudgetCoupler, rates_bps: list[float], burst_ms: float) -> float:
    """Bursts of 1200-byte packets, each burst `burst_ms` long at the next rate of
    `rates_bps`, every packet queued behind its predecessor. Returns the last arrival."""
    coupler.on_packet_sent(SentPacket(0, 100, 0.0))
    coupler.on_feedback([PacketResult(0, 100, 0.0, 20.0)], 40.0)  # base delay 20 ms
    free, seq, t = 0.0, 1, 100.0
    for rate in rates_bps:
        count = max(2, int(rate * burst_ms / 8000.0 / 1200))
        results, free = _through_link(coupler, seq, t, [1200] * count, rate, free)
        seq += count
        coupler.on_feedback(results, free + 40.0)
        t = free
    return free


def test_link_rate_is_the_cautious_slice_of_a_variable_link() -> None:
    # 8 Mbit/s for 800 ms, then 1 Mbit/s for 200 ms: the 500 ms average says 5.2 Mbit/s,
    # the slow slices are what the next frame meets.
    cautious = CouplerConfig(cautious_quantile=0.2)
    coupler = FrameBudgetCoupler(cautious)
    _busy_link(coupler, [8e6] * 8 + [1e6] * 2, 100.0)
    assert coupler.busy_rate_bps(500.0) == pytest.approx(5.2e6, rel=0.1)
    capacity = coupler.capacity_bps()
    assert capacity is not None and capacity < 2e6
    steady = FrameBudgetCoupler(cautious)
    _busy_link(steady, [4e6] * 10, 100.0)  # a steady link keeps its full rate
    assert steady.capacity_bps() == pytest.approx(4e6, rel=0.05)
    plain = FrameBudgetCoupler(CouplerConfig(cautious_quantile=1.0))
    _busy_link(plain, [8e6] * 8 + [1e6] * 2, 100.0)
    assert plain.capacity_bps() == pytest.approx(5.2e6, rel=0.1)


def test_a_long_busy_gap_counts_only_inside_the_window() -> None:
    # One packet took 400 ms (an outage), then 450 ms at 4 Mbit/s: of the outage only the
    # 50 ms inside the 500 ms window count, so the rate is nearly the link's again.
    coupler = FrameBudgetCoupler(CouplerConfig(cautious_quantile=1.0))
    coupler.on_packet_sent(SentPacket(0, 100, 0.0))
    coupler.on_feedback([PacketResult(0, 100, 0.0, 20.0)], 40.0)
    coupler.on_packet_sent(SentPacket(1, 1200, 100.0))
    coupler.on_packet_sent(SentPacket(2, 1200, 100.0))
    coupler.on_feedback([PacketResult(1, 1200, 100.0, 122.0),
                         PacketResult(2, 1200, 100.0, 522.0)], 560.0)
    results, _ = _through_link(coupler, 3, 510.0, [1200] * 188, 4e6, 502.0)
    coupler.on_feedback(results, 1000.0)
    capacity = coupler.capacity_bps()
    assert capacity is not None and capacity > 3.5e6


def test_the_newest_acknowledged_packet_is_no_longer_queued() -> None:
    coupler = FrameBudgetCoupler()
    coupler.on_packet_sent(SentPacket(0, 1200, 100.0))
    coupler.on_feedback([PacketResult(0, 1200, 100.0, 120.0)], 120.0)
    assert coupler.queued_bytes(100_000, 120.0) == 0.0


def test_base_refresh_sends_smaller_frames_once_feedback_came() -> None:
    coupler = FrameBudgetCoupler()
    coupler.on_packet_sent(SentPacket(0, 1200, 4900.0))
    coupler.on_feedback([PacketResult(0, 1200, 4900.0, 4920.0)], 4940.0)
    normal = coupler.decide(1_200_000, None, None, 4976.7, FRAME_MS)
    refresh = coupler.decide(1_200_000, None, None, 4976.7 + FRAME_MS, FRAME_MS)
    assert normal.target_bytes == pytest.approx(5000, abs=1)
    assert refresh.target_bytes == pytest.approx(0.7 * 5000, abs=2)


def test_stale_feedback_never_allows_a_large_frame() -> None:
    coupler = FrameBudgetCoupler()
    coupler.on_packet_sent(SentPacket(0, 1200, 0.0))
    coupler.on_feedback([PacketResult(0, 1200, 0.0, 20.0)], 40.0)
    d = coupler.decide(10_000_000, None, None, 3000.0, FRAME_MS)  # 3 s of silence, big credit
    assert d.send and d.target_bytes == coupler.config.min_frame_bytes


def test_a_busy_gap_of_seconds_counts_as_a_slow_link() -> None:
    # ATT-LTE-driving's outages pass one packet a second: each such gap is busy time, and the
    # link's rate while busy is tiny. A gap over a second once gave no estimate at all, and
    # the queue was drained at a stale rate estimate of megabits a second.
    coupler = FrameBudgetCoupler(CouplerConfig(cautious_quantile=1.0))
    coupler.on_packet_sent(SentPacket(0, 100, 0.0))
    coupler.on_feedback([PacketResult(0, 100, 0.0, 20.0)], 40.0)
    for k in range(1, 5):  # all sent at once at 100 ms, then one arrives per 1.2 s
        coupler.on_packet_sent(SentPacket(k, 1200, 100.0))
    coupler.on_feedback([PacketResult(k, 1200, 100.0, 120.0 + 1200.0 * k) for k in range(1, 5)],
                        5000.0)
    capacity = coupler.capacity_bps()
    assert capacity is not None and capacity < 20_000


def _quiet_frames(link_bps: float, frame_bytes: int) -> list[float]:
    """A path measured at `link_bps`, then 3 s without feedback; the encoder's smallest frame
    is `frame_bytes`. Returns when the coupler sent frames (each one at once)."""
    coupler = FrameBudgetCoupler(CouplerConfig(cautious_quantile=1.0))
    heard = _busy_link(coupler, [link_bps] * 6, 100.0) + 40.0
    coupler.on_frame_encoded(frame_bytes)
    sent = _sent_while_silent(coupler, link_bps, heard, 90, 10_000, frame_bytes)
    return [p.sent_ms - heard for p in sent]


def test_on_a_fast_link_a_feedback_silence_gets_small_frames_after_300_ms() -> None:
    # 8 Mbit/s, 1.5 KB frames (ten a second are 120 kbit/s, under half the link): ATT's
    # uplink falls silent for seconds while its downlink carries the video, and waiting a
    # full second for a sign of life froze the picture through each such silence.
    cfg = CouplerConfig()
    quiet = [s for s in _quiet_frames(8e6, 1500) if s > cfg.early_quiet_ms]
    assert quiet[0] <= cfg.early_quiet_ms + cfg.quiet_frame_interval_ms + FRAME_MS
    uncapped = [s for s in quiet if s <= cfg.early_quiet_ms + cfg.quiet_rate_after_ms]
    assert len(uncapped) >= 2  # a frame per `quiet_frame_interval_ms` at first, ...
    capped = [s for s in quiet if s > uncapped[-1]]
    gaps = [b - a for a, b in itertools.pairwise([uncapped[-1], *capped])]
    assert len(gaps) >= 5 and min(gaps) >= 8000.0 * 1500 / cfg.quiet_rate_bps - 1e-6  # ... then
    # no faster than the quiet rate


def test_on_a_slow_link_a_feedback_silence_gets_nothing_for_a_second() -> None:
    # 200 kbit/s: ten 1.5 KB frames a second would be 120 kbit/s, more than half the link,
    # where a silence is as likely an outage that each frame would wait behind.
    cfg = CouplerConfig()
    sent = _quiet_frames(200_000, 1500)
    assert not [s for s in sent if cfg.early_quiet_ms < s <= STALE_FEEDBACK_MS]
    assert [s for s in sent if s > STALE_FEEDBACK_MS]


def _silence(coupler: FrameBudgetCoupler, heard_ms: float, seq: int, wait_ms: float
             ) -> tuple[list[float], float, int]:
    """2 s without feedback on an 8 Mbit/s link, the encoder's frames 1.5 KB each; then one
    feedback on what was sent, each packet having waited `wait_ms` at the bottleneck. Returns
    when frames went out (ms into the silence), when that feedback came and the next seq."""
    sent = _sent_while_silent(coupler, 8e6, heard_ms, 60, seq, 1500)
    results = [PacketResult(p.transport_seq, p.size_bytes, p.sent_ms, p.sent_ms + 20.0 + wait_ms)
               for p in sent]
    end = max(heard_ms + 60 * FRAME_MS, results[-1].arrived_ms or 0.0) + 20.0
    coupler.on_feedback(results, end)
    return [p.sent_ms - heard_ms for p in sent], end, seq + len(sent)


def test_after_two_silences_of_the_feedback_alone_the_next_gets_a_frame_per_interval() -> None:
    # ATT-LTE-driving's uplink falls silent for seconds again and again while the video flows:
    # once the feedback after two silences has shown it so, quiet frames keep their 100 ms
    # spacing through the next, rather than one per 300 ms by the quiet rate (each a freeze).
    cfg = CouplerConfig(cautious_quantile=1.0)
    coupler = FrameBudgetCoupler(cfg)
    heard, seq = _busy_link(coupler, [8e6] * 6, 100.0) + 40.0, 10_000
    first, heard, seq = _silence(coupler, heard, seq, wait_ms=0.0)
    late = [s for s in first if s > cfg.early_quiet_ms + cfg.quiet_rate_after_ms + 1.0]
    assert min(b - a for a, b in itertools.pairwise(late)) >= 300.0 - 1e-6  # not trusted yet
    _, heard, seq = _silence(coupler, heard, seq, wait_ms=0.0)
    third, heard, seq = _silence(coupler, heard, seq, wait_ms=0.0)
    quiet = [s for s in third if s > cfg.early_quiet_ms]
    assert max(b - a for a, b in itertools.pairwise(quiet)) < cfg.quiet_frame_interval_ms + FRAME_MS
    assert len([s for s in third if s > 1000.0]) >= 7


def test_a_silence_whose_packets_waited_ends_that_trust() -> None:
    # What was sent in it waited behind a media outage: the next silence may be one too
    cfg = CouplerConfig(cautious_quantile=1.0)
    coupler = FrameBudgetCoupler(cfg)
    heard, seq = _busy_link(coupler, [8e6] * 6, 100.0) + 40.0, 10_000
    for _ in range(2):
        _, heard, seq = _silence(coupler, heard, seq, wait_ms=0.0)
    _, heard, seq = _silence(coupler, heard, seq, wait_ms=1500.0)
    after, heard, seq = _silence(coupler, heard, seq, wait_ms=0.0)
    # its last second gets a frame per 300 ms at most (quiet rate), not one per 100 ms
    assert len([s for s in after if s > 1000.0]) <= 1000.0 / 300.0 + 1
