"""The playout-delay extension: its bytes, its negotiation, and its place in our packets."""

from __future__ import annotations

import asyncio

import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.rtp import RtpPacket, unpack_header_extensions

from peer.aiortc_glue import TransportAccess, install_process_hooks, send_playout_delay
from peer.playout_delay import (
    PLAYOUT_DELAY_EXTENSION_ID,
    PLAYOUT_DELAY_URI,
    PlayoutDelayConfig,
    add_header_extension,
    extension_ids,
    negotiated_extension_id,
    parse_element_data,
)

HEADER = bytes([0x80, 96, 0x12, 0x34, 0, 0, 0x0B, 0xB8, 0xDE, 0xAD, 0xBE, 0xEF])  # no X bit
PAYLOAD = b"\x10\x00vp8-frame"


def test_min_and_max_are_twelve_bits_each_in_10_ms_units() -> None:
    assert PlayoutDelayConfig().element_data() == b"\x00\x00\x00"
    # 100 ms = 10 = 0x00A, 2000 ms = 200 = 0x0C8: 0000 0000 | 1010 0000 | 1100 1000
    assert PlayoutDelayConfig(min_ms=100, max_ms=2000).element_data() == b"\x00\xa0\xc8"
    assert PlayoutDelayConfig(min_ms=40950, max_ms=40950).element_data() == b"\xff\xff\xff"
    assert parse_element_data(b"\x00\xa0\xc8") == (100, 2000)


@pytest.mark.parametrize(("min_ms", "max_ms", "says"), [
    (15, 20, "multiple of 10"), (0, 40960, "from 0 to 40950"), (-10, 0, "min_ms=-10"),
    (200, 100, "exceeds max_ms=100")])
def test_a_delay_the_extension_cannot_carry_is_refused(min_ms: int, max_ms: int,
                                                        says: str) -> None:
    with pytest.raises(ValueError, match=says):
        PlayoutDelayConfig(min_ms=min_ms, max_ms=max_ms)


def test_a_packet_without_extensions_gets_a_one_byte_block() -> None:
    out = add_header_extension(HEADER + PAYLOAD, 6, b"\x00\x00\x00")
    # X bit set; profile 0xBEDE, 1 word; element id 6, length 3 (coded 2); payload as it was
    assert out == (bytes([0x90]) + HEADER[1:] + b"\xbe\xde\x00\x01" + b"\x62\x00\x00\x00"
                   + PAYLOAD)


def test_the_element_joins_what_aiortc_wrote_and_aiortc_still_reads_it() -> None:
    packet = RtpPacket(payload_type=96, sequence_number=7, timestamp=90000, ssrc=1234,
                       payload=PAYLOAD)
    packet.extensions.mid = "0"
    packet.extensions.abs_send_time = 0x123456
    data = packet.serialize(_extension_map())
    out = add_header_extension(data, 6, b"\x00\x00\x00")
    parsed = RtpPacket.parse(out, _extension_map())
    assert parsed.payload == PAYLOAD and parsed.extensions.mid == "0"
    assert parsed.extensions.abs_send_time == 0x123456
    elements = unpack_header_extensions(0xBEDE, out[16:len(out) - len(PAYLOAD)])
    assert elements == [(1, b"0"), (3, b"\x12\x34\x56"), (6, b"\x00\x00\x00")]
    # Written twice: the second value replaces the first.
    again = add_header_extension(out, 6, b"\x00\xa0\xc8")
    assert unpack_header_extensions(0xBEDE, again[16:len(again) - len(PAYLOAD)])[-1] == (
        6, b"\x00\xa0\xc8")
    assert len(again) == len(out)


def test_csrcs_two_byte_blocks_and_rtp_padding_are_kept() -> None:
    csrc = bytes([0x81]) + HEADER[1:] + b"\x00\x00\x00\x09"
    padded = bytes([0xB1]) + csrc[1:] + b"\x10\x00\x00\x01" + b"\x20\x01\x7f\x00" + PAYLOAD
    padded += b"\x00\x00\x03"  # RTP padding: 3 bytes, the last says so
    out = add_header_extension(padded, 6, b"\x00\x00\x00")
    assert out[:16] == padded[:16]  # first byte (P, X, CC=1), header and CSRC as they were
    assert out[16:20] == b"\x10\x00\x00\x02"  # two-byte profile, now 2 words
    assert out[20:28] == b"\x20\x01\x7f\x06\x03\x00\x00\x00"
    assert out[28:] == PAYLOAD + b"\x00\x00\x03"


@pytest.mark.parametrize(("packet", "says"), [
    (b"\x80\x60", "not an RTP packet"),
    (bytes([0x90]) + HEADER[1:] + b"\xbe\xde\x00\x05\x10", "past the end"),
    (bytes([0x90]) + HEADER[1:] + b"\xab\xcd\x00\x00", "profile 0xabcd"),
    (bytes([0x90]) + HEADER[1:] + b"\xbe\xde\x00\x01\x13\x00\x00\x00", "element 1 runs")])
def test_a_broken_packet_is_refused_in_one_line(packet: bytes, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        add_header_extension(packet, 6, b"\x00\x00\x00")


CHROMIUM_LIKE_OFFER = """v=0
o=- 1 2 IN IP4 127.0.0.1
s=-
t=0 0
a=extmap-allow-mixed
m=audio 9 UDP/TLS/RTP/SAVPF 111
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level
m=video 9 UDP/TLS/RTP/SAVPF 96
a=extmap:2 urn:ietf:params:rtp-hdrext:toffset
a=extmap:9 http://www.webrtc.org/experiments/rtp-hdrext/playout-delay
a=extmap:5/inactive http://example.com/unused
"""


def test_ids_come_from_the_video_section_and_the_session_level() -> None:
    session_level = "v=0\na=extmap:4 urn:x\nm=video 9 RTP/AVP 96\na=extmap:6 urn:y\n"
    assert extension_ids(session_level, "video") == {"urn:x": 4, "urn:y": 6}
    assert extension_ids(CHROMIUM_LIKE_OFFER, "video") == {
        "urn:ietf:params:rtp-hdrext:toffset": 2, PLAYOUT_DELAY_URI: 9}
    rejected = CHROMIUM_LIKE_OFFER.replace("m=video 9", "m=video 0")
    assert extension_ids(rejected, "video") == {}
    assert negotiated_extension_id(CHROMIUM_LIKE_OFFER, CHROMIUM_LIKE_OFFER) == 9
    assert negotiated_extension_id(CHROMIUM_LIKE_OFFER, rejected) is None
    assert negotiated_extension_id(session_level, CHROMIUM_LIKE_OFFER) is None  # never offered


def _extension_map() -> object:
    from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
    from aiortc.rtp import HeaderExtensionsMap

    extension_map = HeaderExtensionsMap()
    extension_map.configure(RTCRtpParameters(headerExtensions=[
        RTCRtpHeaderExtensionParameters(1, "urn:ietf:params:rtp-hdrext:sdes:mid"),
        RTCRtpHeaderExtensionParameters(
            3, "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time")]))
    return extension_map


def _strip(sdp: str, uri: str) -> str:
    return "".join(line for line in sdp.splitlines(keepends=True) if uri not in line)


async def _negotiate(config: PlayoutDelayConfig, accept: bool) -> tuple[bytes, bytes, str]:
    """Our sender offers to an aiortc answerer, which accepts the extension or (`accept`
    False: its answer loses the line) does not. Returns what our sender would put on the
    wire for a video packet and for one of another SSRC, and the offer."""
    install_process_hooks()
    ours, theirs = RTCPeerConnection(), RTCPeerConnection()
    try:
        transceiver = ours.addTransceiver("video", direction="sendonly")

        async def never(data: bytes) -> None:
            raise AssertionError("nothing is sent in this test")

        access = TransportAccess(transceiver.sender.transport, never)
        send_playout_delay(ours, transceiver, access, config)
        await ours.setLocalDescription(await ours.createOffer())
        await theirs.setRemoteDescription(ours.localDescription)
        await theirs.setLocalDescription(await theirs.createAnswer())
        answer = theirs.localDescription.sdp
        if not accept:
            answer = _strip(answer, PLAYOUT_DELAY_URI)
        await ours.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        video = RtpPacket(payload_type=96, ssrc=transceiver.sender._ssrc, payload=PAYLOAD)
        other = RtpPacket(payload_type=96, ssrc=transceiver.sender._ssrc ^ 1, payload=PAYLOAD)
        return access.serialize(video, 17), access.serialize(other, 18), \
            ours.localDescription.sdp
    finally:
        await ours.close()
        await theirs.close()


def test_our_offer_names_the_extension_and_each_video_packet_carries_zero_delay() -> None:
    video, other, offer = asyncio.run(_negotiate(PlayoutDelayConfig(), accept=True))
    assert f"a=extmap:{PLAYOUT_DELAY_EXTENSION_ID} {PLAYOUT_DELAY_URI}" in offer
    assert (PLAYOUT_DELAY_EXTENSION_ID << 4 | 2).to_bytes(1, "big") + b"\x00\x00\x00" in video
    assert RtpPacket.parse(video).payload == PAYLOAD
    assert b"\x62\x00\x00\x00" not in other  # only the video sender's SSRCs carry it


def test_no_element_when_the_answer_leaves_the_extension_out_or_the_call_turns_it_off() -> None:
    refused, _, _ = asyncio.run(_negotiate(PlayoutDelayConfig(), accept=False))
    off, _, offer = asyncio.run(_negotiate(PlayoutDelayConfig(enabled=False), accept=True))
    assert PLAYOUT_DELAY_URI in offer  # negotiated as Chromium does; only packets differ
    for data in (refused, off):
        assert b"\x62\x00\x00\x00" not in data
        assert RtpPacket.parse(data).payload == PAYLOAD
