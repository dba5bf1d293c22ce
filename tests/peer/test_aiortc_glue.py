"""Per-call state in the aiortc glue: two calls in one process count apart."""

from __future__ import annotations

import asyncio

from aiortc import RTCPeerConnection
from aiortc.jitterbuffer import JitterFrame

from peer.aiortc_glue import (
    DecodeLog,
    HostCandidates,
    ReceiveGuardStats,
    guard_ice_receive,
    ice_connection,
    install_process_hooks,
    log_decoding,
    use_host_candidates,
)
from peer.frame_assembler import AssembledFrame

KEYFRAME, DELTA = b"\x00" + bytes(9), b"\x01" + bytes(4)  # VP8 frame tag bit 0: 0 = key


def test_two_receivers_log_their_own_frames_and_errors() -> None:
    async def main() -> tuple[DecodeLog, DecodeLog]:
        logs = DecodeLog(), DecodeLog()
        pcs = RTCPeerConnection(), RTCPeerConnection()
        try:
            for pc, log in zip(pcs, logs, strict=True):
                log_decoding(pc.addTransceiver("video").receiver, log)
            # What aiortc's receiver does with a complete frame, and its decoder thread with
            # one libvpx refused: the hooks are on each receiver's own queue and flag.
            first, second = (pc.getTransceivers()[0].receiver for pc in pcs)
            queue_a = getattr(first, "_RTCRtpReceiver__decoder_queue")  # noqa: B009
            queue_b = getattr(second, "_RTCRtpReceiver__decoder_queue")  # noqa: B009
            queue_a.put((None, JitterFrame(KEYFRAME, 3000)))
            queue_a.put((None, JitterFrame(DELTA, 6000)))
            queue_b.put((None, JitterFrame(DELTA, 9000)))
            getattr(second, "_RTCRtpReceiver__decoder_error").set()  # noqa: B009
        finally:
            for pc in pcs:
                await pc.close()
        return logs

    a, b = asyncio.run(main())
    assert (a.frames, a.keyframes, a.received_bytes, a.decode_errors) == (2, 1, 15, 0)
    assert (b.frames, b.keyframes, b.received_bytes, b.decode_errors) == (1, 0, 5, 1)
    assert a.size_of(3000) == 10 and a.is_keyframe(3000) and b.size_of(3000) is None


def test_host_candidates_and_ice_guards_are_per_connection() -> None:
    """One process-wide patch each, routed to the connection's own mode and counts."""

    async def main() -> tuple[list[list[str]], list[ReceiveGuardStats]]:
        install_process_hooks()
        pcs = RTCPeerConnection(), RTCPeerConnection()
        guards = [ReceiveGuardStats(), ReceiveGuardStats()]
        hosts: list[list[str]] = []
        try:
            for pc, guard, mode in zip(pcs, guards, (HostCandidates.LOOPBACK,
                                                     HostCandidates.ALL), strict=True):
                transceiver = pc.addTransceiver("video")
                use_host_candidates(transceiver, mode)
                guard_ice_receive(transceiver, guard)
            for pc in pcs:
                await pc.setLocalDescription(await pc.createOffer())
                connection = ice_connection(pc.getTransceivers()[0])
                hosts.append(sorted({c.host for c in connection.local_candidates}))
                # an empty datagram at this connection's socket: its own guard counts it
                protocol = connection._protocols[0]
                protocol.datagram_received(b"", ("127.0.0.1", 9))
            ice_connection(pcs[1].getTransceivers()[0])._protocols[0].datagram_received(
                b"", ("127.0.0.1", 9))
        finally:
            for pc in pcs:
                await pc.close()
        return hosts, guards

    hosts, guards = asyncio.run(main())
    assert hosts[0] == ["127.0.0.1"]
    assert "127.0.0.1" in hosts[1]
    assert (guards[0].empty, guards[1].empty) == (1, 2)


def test_the_bounded_nack_generator_says_what_aiortcs_does_at_a_bounded_cost() -> None:
    import random
    import time

    from aiortc.rtcrtpreceiver import NackGenerator
    from aiortc.rtp import RtpPacket

    from peer.nack_generator import BoundedNackGenerator

    rng = random.Random(4)
    theirs, ours = NackGenerator(), BoundedNackGenerator()
    seq = 65000
    for _ in range(3000):  # losses, reordering, wrap-around, and now and then a wild jump
        r = rng.random()
        step = (rng.randint(-5, -1) if r < 0.1 else rng.randint(2, 300) if r < 0.15
                else rng.randint(1, 65535) if r < 0.17 else 1)
        seq = (seq + step) % 65536
        packet = RtpPacket(sequence_number=seq)
        assert ours.add(packet) == theirs.add(packet)
        assert ours.missing == theirs.missing and ours.max_seq == theirs.max_seq
    wild = [RtpPacket(sequence_number=(i * 32000) % 65536) for i in range(200)]
    started = time.perf_counter()
    for packet in wild:
        ours.add(packet)
    assert time.perf_counter() - started < 0.2  # aiortc's: 200 x 32,000 steps, seconds


def test_frames_a_repair_freed_are_queued_behind_the_one_aiortc_puts() -> None:
    async def main() -> list[tuple[int, bytes]]:
        pc = RTCPeerConnection()
        try:
            receiver = pc.addTransceiver("video").receiver
            log_decoding(receiver, DecodeLog())
            queue = getattr(receiver, "_RTCRtpReceiver__decoder_queue")  # noqa: B009
            # Frames at RTP 3000 (handed to aiortc), 6000 and 9000 freed by one packet; aiortc
            # maps 3000 to 0 before its put: the others keep their distance from it.
            queue.follow_with(3000, [AssembledFrame(6000, DELTA, False),
                                     AssembledFrame(9000, DELTA, False)])
            queue.put(("vp8", JitterFrame(KEYFRAME, 0)))
            items = []
            while not queue.empty():
                codec, frame = queue.get_nowait()
                assert codec == "vp8"
                items.append((frame.timestamp, frame.data))
            return items
        finally:
            await pc.close()

    assert asyncio.run(main()) == [(0, KEYFRAME), (3000, DELTA), (6000, DELTA)]
