"""Sound in a real (loopback, in-process) session: it shares the video's transport, its pacer
and transport-wide sequence numbers, the receiver acknowledges it, and it is heard."""

from __future__ import annotations

import asyncio
from typing import Any

import av
from aiortc import RTCSessionDescription

from peer.aiortc_glue import (
    OPUS_BIT_RATE_BPS,
    TRANSPORT_CC_URI,
    DecodeLog,
    HostCandidates,
    ReceiveGuardStats,
)
from peer.audio_tone import ToneTrack
from peer.clock import Clock
from peer.metrics import MetricsLog
from peer.receiver import FrameReceiver
from peer.session import CallParts, MediaSession
from peer.sink import NullSink
from peer.source import TestPatternSource
from ratecontrol.types import PacketResult

CALL_S = 4.0


def parts(clock: Clock, audio: ToneTrack | None) -> CallParts:
    receiver = FrameReceiver(NullSink(), MetricsLog(None), DecodeLog(), wall_clock=clock.wall_s,
                             measure_quality=False)
    return CallParts(clock, TestPatternSource(clock, 160, 120), receiver, DecodeLog(),
                     ReceiveGuardStats(), HostCandidates.LOOPBACK, audio)


def session(clock: Clock, direction: str, audio: ToneTrack | None) -> MediaSession:
    return MediaSession(0, parts(clock, audio), controller="ours", direction=direction,
                        ice_server=None, ice_user=None, relay_only=False)


async def a_call() -> dict[str, Any]:
    clock = Clock()
    sender, receiver = session(clock, "sendonly", ToneTrack()), session(clock, "recvonly", None)
    results: list[PacketResult] = []
    controller = sender.controller
    assert controller is not None
    on_feedback = controller.on_feedback

    def record(found: list[PacketResult], now_ms: float) -> None:  # what the sender heard
        results.extend(found)
        on_feedback(found, now_ms)

    controller.on_feedback = record  # type: ignore[method-assign]
    heard: list[av.AudioFrame] = []
    readers: list[asyncio.Future[None]] = []

    @receiver.pc.on("track")
    def on_track(track: Any) -> None:
        async def read() -> None:
            while True:
                heard.append(await track.recv())

        if track.kind == "audio":
            readers.append(asyncio.ensure_future(read()))

    try:
        await sender.pc.setLocalDescription(await sender.pc.createOffer())
        offer = sender.pc.localDescription.sdp
        await receiver.pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
        await receiver.pc.setLocalDescription(await receiver.pc.createAnswer())
        await sender.pc.setRemoteDescription(receiver.pc.localDescription)
        await asyncio.sleep(CALL_S)
        stats = await sender.pc.getStats()
        outbound = {s.kind: s.packetsSent for s in stats.values() if s.type == "outbound-rtp"}
        audio_bytes = sum(s.bytesSent for s in stats.values()
                          if s.type == "outbound-rtp" and s.kind == "audio")
        return {"offer": offer, "results": results, "heard": heard, "outbound": outbound,
                "audio_bytes": audio_bytes,
                "sent": sender.congestion.stats.packets_sent,
                "transports": {t.sender.transport for t in sender.pc.getTransceivers()}}
    finally:
        for reader in readers:
            reader.cancel()
        await sender.close()
        await receiver.close()


def test_sound_shares_the_transport_wide_numbers_and_is_acknowledged() -> None:
    call = asyncio.run(a_call())
    audio_section = call["offer"].split("m=audio", 1)[1]
    assert TRANSPORT_CC_URI in audio_section and "transport-cc" in audio_section
    assert len(call["transports"]) == 1  # one bundle from the start
    audio_packets, video_packets = call["outbound"]["audio"], call["outbound"]["video"]
    assert audio_packets > 0.5 * CALL_S * 50  # 50 Opus packets a second, on a loaded machine
    # Every packet, audio included, went through the pacer and took a transport-wide number.
    assert call["sent"] >= audio_packets + video_packets - 10
    acked = [r for r in call["results"] if r.arrived_ms is not None]
    lost = [r for r in call["results"] if r.arrived_ms is None]
    assert len(acked) > video_packets  # the receiver acknowledged the sound's numbers too
    assert len(lost) <= 0.02 * len(call["results"])  # none read as lost: all are recorded
    assert len(call["heard"]) > 0.5 * audio_packets
    # Opus at OPUS_BIT_RATE_BPS, not aiortc's 96 kbit/s (240 payload bytes a packet): about
    # 80 bytes, plus the RTP header and extensions aiortc counts in bytesSent.
    assert call["audio_bytes"] / audio_packets < OPUS_BIT_RATE_BPS / 8 / 50 + 80


def test_sound_is_decoded_the_moment_it_comes_and_late_packets_are_dropped() -> None:
    from aiortc.rtp import RtpPacket

    from peer.aiortc_glue import _AudioAtOnce

    buffer = _AudioAtOnce()

    def add(seq: int) -> int | None:
        packet = RtpPacket(sequence_number=seq, timestamp=seq * 960, payload=b"opus")
        frame = buffer.add(packet)[1]
        return None if frame is None else frame.timestamp // 960

    # In order; a gap (lost 65534) waits for nothing; late and duplicate packets are dropped;
    # the 16-bit sequence number wraps.
    assert [add(s) for s in (65533, 65535, 65534, 65535, 0, 1)] == [
        65533, 65535, None, None, 0, 1]


def answer(offer_kinds: tuple[str, ...]) -> tuple[set[str], str]:
    """Our session answers an offer with these m-lines, in this order (a browser's)."""
    from aiortc import RTCPeerConnection

    from peer.aiortc_glue import set_remote_description

    async def main() -> tuple[set[str], str]:
        ours = session(Clock(), "sendrecv", ToneTrack())
        theirs = RTCPeerConnection()
        try:
            for kind in offer_kinds:
                theirs.addTransceiver(kind)
            await theirs.setLocalDescription(await theirs.createOffer())
            await set_remote_description(ours.pc, theirs.localDescription)
            await ours.pc.setLocalDescription(await ours.pc.createAnswer())
            transports = {t.receiver.transport for t in ours.pc.getTransceivers()}
            assert len(transports) == 1
            states = {f"{t.state}/{t.transport.state}" for t in transports}  # DTLS/ICE
            return states, ours.pc.localDescription.sdp
        finally:
            await theirs.close()
            await ours.close()

    return asyncio.run(main())


def test_an_offer_with_audio_first_keeps_the_one_transport_alive() -> None:
    states, sdp = answer(("audio", "video"))
    assert states == {"new/new"}  # not stopped ("closed") by aiortc's bundle clean-up
    assert sdp.index("m=audio") < sdp.index("m=video")


def test_an_offer_without_audio_is_answered() -> None:
    states, sdp = answer(("video",))
    assert states == {"new/new"} and "m=audio" not in sdp
