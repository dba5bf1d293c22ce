"""The real call's asyncio adapter of the sender transport: RTCP parsed at the edge into
typed events, and one timer that sleeps while there is nothing to do. (Whole calls through
it: tests/peer/test_call.py.) A real TransportAccess needs a DTLS transport, so the timer test
stands a small recording one in its place."""

from __future__ import annotations

import asyncio

from aiortc.rtp import (
    RTCP_PSFB_APP,
    RtcpPsfbPacket,
    RtcpReceiverInfo,
    RtcpRrPacket,
    RtpPacket,
    pack_remb_fci,
)

from peer.congestion import CongestionControl
from ratecontrol.fixed import FixedRateController
from ratecontrol.twcc import TransportFeedback, build_rtcp_transport_cc

SSRC = 0x1234


def _rr(fraction_lost: int, packets_lost: int, highest: int) -> bytes:
    report = RtcpReceiverInfo(SSRC, fraction_lost, packets_lost, highest, 0, 0, 0)
    return bytes(RtcpRrPacket(ssrc=99, reports=[report]))


def _remb(bps: int) -> bytes:
    return bytes(RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=99, media_ssrc=0,
                                fci=pack_remb_fci(bps, [SSRC])))


def test_rtcp_is_parsed_at_the_edge_and_lies_are_refused() -> None:
    cc = CongestionControl(FixedRateController(500_000), SSRC)
    lie = TransportFeedback(99, SSRC, base_seq=0, reference_time_64ms=1, feedback_count=0,
                            deltas_ticks=(4,))  # acknowledges a packet never sent
    cc.on_incoming_rtcp(build_rtcp_transport_cc(lie) + _rr(0, 10, 5) + _remb(10**9), 10.0)
    stats = cc.transport.stats
    assert stats.refused_unsent_ack == 1
    assert stats.refused_loss_report == 1  # 10 lost of none sent
    assert stats.refused_remb == 1
    assert cc.stats.feedback_refused == 3 and cc.stats.feedback_received == 3
    cc.on_incoming_rtcp(b"\x80\xc9\x00\x07garbage", 20.0)  # malformed: nothing, no raise
    assert cc.stats.feedback_received == 3


class RecordingAccess:
    """Parses and serializes as aiortc does without header extensions; records sends."""

    def __init__(self) -> None:
        self.sent: list[tuple[float, bytes]] = []

    async def send_now(self, data: bytes) -> bool:
        self.sent.append((asyncio.get_running_loop().time() * 1000.0, data))
        return True

    def parse_rtp(self, data: bytes) -> RtpPacket:
        return RtpPacket.parse(data)

    def serialize(self, packet: RtpPacket, transport_seq: int | None = None) -> bytes:
        return packet.serialize()


def _rtp(seq: int) -> bytes:
    return RtpPacket(payload_type=96, sequence_number=seq, ssrc=SSRC,
                     payload=bytes(1100)).serialize()


def test_one_timer_paces_and_then_sleeps() -> None:
    async def call(controller: FixedRateController | None) -> tuple[CongestionControl,
                                                                      RecordingAccess]:
        cc = CongestionControl(controller, SSRC)
        access = RecordingAccess()
        cc.start(access)  # type: ignore[arg-type]
        for seq in range(10):
            cc.on_outgoing_rtp(_rtp(seq))
        await asyncio.sleep(0.2)
        return cc, access

    async def both() -> None:
        paced, access = await call(FixedRateController(400_000))  # paced at 2.5x: 1 Mbit/s
        times = [t for t, _ in access.sent]
        assert len(times) == 10
        assert times[-1] - times[0] >= 0.8 * 9 * 1154 * 8 / 1000  # 9 wire packets at 1 Mbit/s
        # Idle now: the only wake-up left is the controller's 25 ms turn.
        now = asyncio.get_running_loop().time() * 1000.0
        assert paced._timer_ms is not None and paced._timer_ms - now <= 25.0 + 1e-6
        assert paced.stats.packets_sent == 10
        await paced.stop()
        assert paced._timer is None

        burst, access = await call(None)  # stock aiortc: one burst, unstamped
        assert len(access.sent) == 10
        assert access.sent[-1][0] - access.sent[0][0] < 20.0
        assert burst._timer is None  # nothing to do: nothing wakes
        await burst.stop()

    asyncio.run(both())
