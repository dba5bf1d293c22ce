"""The simulator's receiver: the real FrameAssembler and aiortc's NackGenerator, fed
simulated packets, plus the decoder-timing model."""

from __future__ import annotations

import itertools

import pytest

from experiments.sim.call import SimConfig, Simulation
from experiments.sim.packetizer import MediaPacket, packetize
from experiments.sim.receiver import DECODE_MS, ReceiverConfig, Response, SimReceiver
from netem import generate
from peer.frame_assembler import (
    DEFAULT_MAX_WAIT_MS,
    NACK_RETRY_MS,
    PLI_INTERVAL_MS,
    FrameAssembler,
)
from ratecontrol.controllers import make_controller

FRAME_MS = 33.0


def stamp(index: int) -> tuple[int, float]:
    """Frame `index` among those sent is frame_id 10 + 2·index (every other one skipped)."""
    return 10 + 2 * index, index * 2 * FRAME_MS


def frames(sizes: list[tuple[int, bool]], first_seq: int = 0, first_index: int = 0
           ) -> list[list[MediaPacket]]:
    """(size, keyframe) per frame sent -> each frame's packets, RTP seqs from `first_seq`."""
    out: list[list[MediaPacket]] = []
    seq = first_seq
    for index, (size, key) in enumerate(sizes, start=first_index):
        out.append(packetize(index, size, key, first_rtp_seq=seq))
        seq += len(out[-1])
    return out


class Run:
    """Feeds one receiver and keeps everything it answered."""

    def __init__(self, config: ReceiverConfig | None = None) -> None:
        self.rx = SimReceiver(stamp, config)
        self.responses: list[Response] = []
        self.times_ms: list[float] = []

    def feed(self, packets: list[MediaPacket], at_ms: float, step_ms: float = 1.0) -> None:
        for i, packet in enumerate(packets):
            self.times_ms.append(at_ms + i * step_ms)
            self.responses.append(self.rx.on_packet(packet, self.times_ms[-1]))

    @property
    def shown_ids(self) -> list[int | None]:
        return [shown.frame_id for r in self.responses for shown in r.shown]

    @property
    def nacked(self) -> list[tuple[int, ...]]:
        return [nack for r in self.responses for nack in r.nacks]

    @property
    def plis(self) -> int:
        return sum(r.pli for r in self.responses)

    @property
    def pli_times_ms(self) -> list[float]:
        return [t for t, r in zip(self.times_ms, self.responses, strict=True) if r.pli]


def test_a_frame_is_shown_one_decode_after_its_last_packet() -> None:
    run = Run()
    (key,) = frames([(3_000, True)])
    run.feed(key, at_ms=100.0)
    shown = [r.shown for r in run.responses]
    assert shown[:-1] == [(), ()]
    (last,) = shown[-1]
    assert last.frame_id == 10 and last.captured_at == 0.0 and last.keyframe
    assert last.shown_at * 1000 == pytest.approx(102.0 + DECODE_MS)
    assert last.bytes == 3_000  # the assembled frame's size, as a real decode log has it
    assert run.nacked == [] and run.plis == 0


def test_loss_is_nacked_at_once_and_the_repaired_frame_shown() -> None:
    run = Run()
    key, delta, after = frames([(3_000, True), (3_000, False), (1_000, False)])
    lost = delta[1]
    run.feed(key, 0.0)
    run.feed([delta[0], delta[2]], FRAME_MS)
    assert run.nacked == [(lost.rtp_seq,)]  # aiortc's NackGenerator, on the gap
    run.feed(after, 2 * FRAME_MS)
    assert run.shown_ids == [10]  # frame 1 holds frame 2 back: VP8 deltas decode in order
    run.feed([lost], 2 * FRAME_MS + 20.0)  # the retransmission, within max_wait_ms
    assert run.shown_ids == [10, 12, 14]  # frame 2 was complete behind it: decoded too
    assert run.nacked == [(lost.rtp_seq,)] and run.plis == 0
    assert run.rx.assembler.stats.packets_recovered == 1


def test_a_packet_still_missing_is_asked_for_again_after_the_retry_interval() -> None:
    run = Run()
    key, delta, *more = frames([(3_000, True), (3_000, False)] + [(200, False)] * 4)
    run.feed([*key, delta[0], delta[2]], 0.0)  # delta[1] is lost
    run.feed(more[0], NACK_RETRY_MS / 2)  # too soon to ask again
    assert run.nacked == [(delta[1].rtp_seq,)]
    run.feed(more[1], NACK_RETRY_MS + 10.0)  # its retransmission is lost too: ask again
    assert run.nacked == [(delta[1].rtp_seq,), (delta[1].rtp_seq,)]
    run.feed([delta[1]], NACK_RETRY_MS + 30.0)
    assert run.shown_ids[:2] == [10, 12] and run.plis == 0


def test_without_nack_a_loss_waits_for_a_keyframe() -> None:
    run = Run(ReceiverConfig(nack=False))
    key, delta, *deltas = frames([(3_000, True), (3_000, False)] + [(500, False)] * 8)
    run.feed([*key, delta[0], delta[2]], 0.0)
    for i, frame in enumerate(deltas):
        run.feed(frame, (i + 2) * FRAME_MS)
    assert run.nacked == []
    assert run.shown_ids == [10]
    assert run.plis == 1  # max_wait_ms after frame 2 completed: nothing to repair it


def test_a_lost_frame_costs_a_pli_and_decoding_resumes_at_the_keyframe() -> None:
    run = Run()
    sizes = [(3_000, True)] + [(1_000, False)] * 9 + [(6_000, True), (1_000, False)]
    sent = frames(sizes)
    run.feed(sent[0], 0.0)
    # Frame 1 is lost whole and never repaired; frames 2-9 keep coming, one per 33 ms.
    for index in range(2, 10):
        run.feed(sent[index], index * FRAME_MS)
    assert run.nacked and run.nacked[0] == (sent[1][0].rtp_seq,)
    assert run.shown_ids == [10]  # nothing after the gap is decodable
    # Frame 2 completed at 66 ms; the gap is given up with the first packet max_wait_ms later.
    give_up = next(k for k in range(2, 10) if k * FRAME_MS >= 2 * FRAME_MS + DEFAULT_MAX_WAIT_MS)
    assert run.pli_times_ms == [give_up * FRAME_MS]
    run.feed(sent[10] + sent[11], 10 * FRAME_MS + 100.0)  # the keyframe the PLI asked for
    assert run.shown_ids == [10, 30, 32]
    assert run.rx.assembler.stats.frames_abandoned >= 8
    assert run.rx.assembler.stats.keyframe_requests == 1


def test_plis_are_repeated_no_faster_than_the_assembler_allows() -> None:
    run = Run(ReceiverConfig(nack=False))
    sent = frames([(1_000, True)] + [(1_000, False)] * 30)
    run.feed(sent[0], 0.0)
    for index in range(2, 31):  # frame 1 lost; no keyframe ever comes
        run.feed(sent[index], index * FRAME_MS)
    pli_ms = run.pli_times_ms
    assert pli_ms == [7 * FRAME_MS, 17 * FRAME_MS, 27 * FRAME_MS]  # 231, 561, 891 ms
    assert all(b - a >= PLI_INTERVAL_MS for a, b in itertools.pairwise(pli_ms))


def test_reordered_packets_make_their_frames_without_repair() -> None:
    run = Run()
    key, one, two = frames([(3_000, True), (3_000, False), (2_000, False)])
    # Inside a frame, and across frames: frame 2's first packet overtakes frame 1's last.
    run.feed([key[0], key[2], key[1], one[0], one[1], two[0], one[2], two[1]], 0.0)
    assert run.shown_ids == [10, 12, 14]
    run.feed(frames([(500, False)], first_seq=two[-1].rtp_seq + 1, first_index=3)[0], FRAME_MS)
    assert run.shown_ids == [10, 12, 14, 16]
    assert run.plis == 0
    # aiortc NACKs any gap, a reordering too (the sender's resend is then a duplicate).
    assert run.nacked == [(key[1].rtp_seq,), (one[2].rtp_seq,)]
    assert run.rx.assembler.stats.frames_abandoned == 0


def test_duplicates_are_shown_once() -> None:
    run = Run()
    key, one = frames([(3_000, True), (1_000, False)])
    run.feed(key + key + one + one, 0.0)
    assert run.shown_ids == [10, 12]


def test_one_decoder_decodes_frames_released_together_one_after_another() -> None:
    run = Run()
    key, one, two, three = frames([(1_000, True), (1_000, False), (1_000, False),
                                   (2_000, False)])
    run.feed(key, 0.0)
    run.feed(two + one, 10.0)  # frame 1 arrives last: frames 1 and 2 become ready together
    run.feed(three, 12.0, step_ms=0.5)
    shown = [s for r in run.responses for s in r.shown]
    assert [s.frame_id for s in shown] == [10, 12, 14, 16]
    times_ms = [s.shown_at * 1000 for s in shown]
    assert times_ms[1] == pytest.approx(11.0 + DECODE_MS)
    assert times_ms[2] == pytest.approx(times_ms[1] + DECODE_MS)  # the decoder was busy
    assert times_ms[3] == pytest.approx(times_ms[2] + DECODE_MS)


def test_nacks_name_the_sender_s_unwrapped_sequence_numbers() -> None:
    run = Run()
    start = 3 * 65_536 - 2  # the 16-bit numbers wrap inside frame 1
    key, one = frames([(1_000, True), (4_000, False)], first_seq=start)
    run.feed([*key, one[0], one[3]], 0.0)  # one[1], one[2] lost: seqs 3·65536, +1
    assert run.nacked == [(one[1].rtp_seq, one[2].rtp_seq)]
    run.feed([one[1], one[2]], 50.0)
    assert run.shown_ids == [10, 12]


def test_a_simulated_call_repairs_loss_with_the_real_assembler() -> None:
    trace = generate.constant(2_000_000, 60.0)
    config = SimConfig(media_trace=trace, feedback_trace=trace, duration_s=6.0, loss=0.03,
                       seed=2)
    sim = Simulation(config, make_controller("fixed:500000"))
    result = sim.run()
    stats = sim.receiver.assembler.stats
    assert isinstance(sim.receiver.assembler, FrameAssembler)
    assert stats.packets_missing == result.packets_lost > 0
    assert stats.packets_recovered >= 0.9 * stats.packets_missing  # NACK/RTX in time
    assert result.plis == stats.keyframe_requests
    shown, sent = result.summary.frames_shown, result.summary.frames_sent
    assert shown is not None and sent is not None and shown >= 0.95 * sent
