from ratecontrol.aimd import AimdConfig
from ratecontrol.delay_based import DelayBasedBwe, DelayBasedConfig
from ratecontrol.overuse_detector import BandwidthUsage
from ratecontrol.types import PacketResult


def _feed(bwe: DelayBasedBwe, send_bps: float, link_bps: float, seconds: float) -> list[str]:
    """Packets of 1200 bytes at `send_bps` through a `link_bps` bottleneck; feedback every 50 ms."""
    gap_ms = 1200 * 8000 / send_bps
    service_ms = 1200 * 8000 / link_bps
    free_ms = 0.0
    t = 0.0
    seq = 0
    batch: list[PacketResult] = []
    next_fb = 50.0
    states = []
    while t < seconds * 1000:
        free_ms = max(free_ms, t) + service_ms
        batch.append(PacketResult(seq, 1200, t, free_ms + 40.0))
        seq += 1
        t += gap_ms
        if t >= next_fb:
            ready = [p for p in batch if p.arrived_ms is not None and p.arrived_ms <= next_fb]
            batch = [p for p in batch if p not in ready]
            bwe.on_feedback(ready, send_bps, next_fb + 20.0, 100.0)
            states.append(bwe.usage.value)
            next_fb += 50.0
    return states


def test_overuse_detected_and_rate_cut_to_85_percent_of_acked() -> None:
    config = DelayBasedConfig(aimd=AimdConfig(start_bps=1_000_000), probe_at_start=False)
    bwe = DelayBasedBwe(config)
    states = _feed(bwe, 1_000_000, 600_000, 3.0)
    assert BandwidthUsage.OVERUSING.value in states
    # acked rate passed in is the send rate (1 Mbit/s): the cut is to 0.85 of it, then held.
    assert bwe.bitrate_bps() <= 0.85 * 1_000_000 + 1


def test_no_congestion_lets_the_rate_grow_and_ramp_beats_8_percent_per_second() -> None:
    slow = DelayBasedBwe(DelayBasedConfig(probe_at_start=False))
    states = _feed(slow, 300_000, 5_000_000, 3.0)
    assert BandwidthUsage.OVERUSING.value not in states
    assert 300_000 * 1.08**2 < slow.bitrate_bps() < 300_000 * 1.08**3.2
    fast = DelayBasedBwe(DelayBasedConfig(probe_at_start=True))
    _feed(fast, 300_000, 5_000_000, 3.0)
    # the ramp doubles per second but stays within 1.5 x the acked rate passed in
    assert fast.bitrate_bps() >= 1.5 * 300_000 * 0.99
    assert fast.bitrate_bps() <= 1.5 * 300_000 + 10_000


def test_empty_and_lost_only_feedback_change_nothing() -> None:
    bwe = DelayBasedBwe()
    before = bwe.bitrate_bps()
    assert bwe.on_feedback([], None, 0.0, 100.0) == before
    lost = [PacketResult(i, 1200, float(i), None) for i in range(10)]
    assert bwe.on_feedback(lost, None, 10.0, 100.0) == before


def _run(bwe: DelayBasedBwe, video: bool, audio: bool) -> list[tuple[str, float]]:
    """Every 50 ms for 3 s, a feedback on 10 video packets with a steady delay, then one on
    sound packets sent in the same time whose delay grows 3 ms each (a queue only they meet;
    in a real call, the delivery slots sound meets alone). (usage, estimate) per feedback."""
    seq, rising, seen = 0, 0.0, []
    for k in range(60):
        t0 = k * 50.0
        if video:
            bwe.on_feedback([PacketResult(seq + i, 1200, t0 + 5.0 * i, t0 + 5.0 * i + 40.0)
                             for i in range(10)], 1_000_000, t0 + 60.0, 100.0)
            seq += 10
            seen.append((bwe.usage.value, bwe.bitrate_bps()))
        if audio:
            sound = []
            for i in (0, 20, 40):
                rising += 3.0
                sound.append(PacketResult(seq, 120, t0 + i + 1.0, t0 + i + 41.0 + rising,
                                          is_audio=True))
                seq += 1
            bwe.on_feedback(sound, 1_000_000, t0 + 61.0, 100.0)
            seen.append((bwe.usage.value, bwe.bitrate_bps()))
    return seen


def test_sound_is_no_delay_signal_while_video_flows_and_the_only_one_when_it_stops() -> None:
    config = DelayBasedConfig(aimd=AimdConfig(start_bps=1_000_000), probe_at_start=False)
    video_only = _run(DelayBasedBwe(config), video=True, audio=False)
    both = _run(DelayBasedBwe(config), video=True, audio=True)
    assert both[0::2] == video_only and both[1::2] == video_only  # the sound changed nothing
    assert all(usage != "overusing" for usage, _ in video_only)
    # No video at all: sound is what there is, and its queue is seen.
    assert any(usage == "overusing" for usage, _ in _run(DelayBasedBwe(config), video=False,
                                                          audio=True))
