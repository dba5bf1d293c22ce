"""libwebrtc's playout-delay RTP header extension, sans I/O: its bytes, when a call may send
it, and how it goes into a packet.

`http://www.webrtc.org/experiments/rtp-hdrext/playout-delay` tells the receiver how long it
may hold a frame between capture and render: MIN and MAX, 12 bits each (MIN first), in 10 ms
units, 3 bytes of element data. min = max = 0 asks it to render each frame as soon as it is
decoded: Chromium then bypasses its adaptive jitter buffer, which is this project's "no
playback buffer" carried into a browser.

Like Chromium, we always offer and accept the extension for video; whether packets carry it
is the call's choice (PlayoutDelayConfig.enabled), and they may only when both descriptions
of the negotiation name it (`negotiated_extension_id`).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

PLAYOUT_DELAY_URI = "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay"
PLAYOUT_DELAY_EXTENSION_ID = 6  # ours in offers; free in aiortc's BUNDLE id space (1-5 used)
DELAY_UNIT_MS = 10
MAX_DELAY_MS = 0xFFF * DELAY_UNIT_MS  # 12 bits of 10 ms: 40.95 s

ONE_BYTE_PROFILE = 0xBEDE  # RFC 8285 §4.2
TWO_BYTE_PROFILE = 0x1000  # RFC 8285 §4.3; the low 4 bits are application bits
RTP_HEADER_BYTES = 12


@dataclass(frozen=True)
class PlayoutDelayConfig:
    """What our video packets ask of the receiver's playout.

    enabled: write the extension into every video packet (media and RTX) once negotiated.
    min_ms, max_ms: the delay range, multiples of 10 ms up to 40950; 0/0 = render at once.
    """

    enabled: bool = True
    min_ms: int = 0
    max_ms: int = 0

    def __post_init__(self) -> None:
        for name, value in (("min_ms", self.min_ms), ("max_ms", self.max_ms)):
            if not 0 <= value <= MAX_DELAY_MS or value % DELAY_UNIT_MS:
                raise ValueError(f"playout delay {name}={value}: give a multiple of "
                                 f"{DELAY_UNIT_MS} ms from 0 to {MAX_DELAY_MS}")
        if self.min_ms > self.max_ms:
            raise ValueError(f"playout delay min_ms={self.min_ms} exceeds "
                             f"max_ms={self.max_ms}: give min <= max")

    def element_data(self) -> bytes:
        """The extension element's 3 data bytes: MIN (12 bits) then MAX (12 bits)."""
        value = (self.min_ms // DELAY_UNIT_MS) << 12 | self.max_ms // DELAY_UNIT_MS
        return value.to_bytes(3, "big")


def parse_element_data(data: bytes) -> tuple[int, int]:
    """(min_ms, max_ms) from the extension's 3 data bytes."""
    if len(data) != 3:
        raise ValueError(f"playout delay element holds {len(data)} bytes: it must hold 3")
    value = int.from_bytes(data, "big")
    return (value >> 12) * DELAY_UNIT_MS, (value & 0xFFF) * DELAY_UNIT_MS


# -- negotiation ------------------------------------------------------------------------


def extension_ids(sdp: str, kind: str) -> dict[str, int]:
    """URI -> id of the a=extmap lines that apply to the first m=`kind` section: the
    session-level ones, then the section's own. Empty when there is no such section or it is
    rejected (port 0); an inactive mapping is left out."""
    session: dict[str, int] = {}
    section: dict[str, int] | None = None
    target: dict[str, int] | None = session  # where the lines being read belong
    for raw in sdp.splitlines():
        line = raw.strip()
        if line.startswith("m="):
            if section is not None:
                break  # only the first section of this kind counts
            fields = line[2:].split()
            if len(fields) > 1 and fields[0] == kind:
                if fields[1] == "0":
                    return {}
                section = {}
            target = section
        elif line.startswith("a=extmap:") and target is not None:
            fields = line[len("a=extmap:"):].split()
            number, _, direction = fields[0].partition("/") if fields else ("", "", "")
            if len(fields) >= 2 and number.isdigit() and direction != "inactive":
                target[fields[1]] = int(number)
    return {} if section is None else {**session, **section}


def negotiated_extension_id(offer_sdp: str, answer_sdp: str, uri: str = PLAYOUT_DELAY_URI,
                            kind: str = "video") -> int | None:
    """The id both sides use for `uri` on the first `kind` section, or None when the answer
    left it out (the other side did not accept it) or the offer never had it. The answer's
    id is the one in force (RFC 8285 §6: the answerer echoes the offered id)."""
    if uri not in extension_ids(offer_sdp, kind):
        return None
    return extension_ids(answer_sdp, kind).get(uri)


# -- the packet ------------------------------------------------------------------------


def add_header_extension(packet: bytes, extension_id: int, data: bytes) -> bytes:
    """`packet` (plain RTP) with the element `extension_id` -> `data` in its header
    extension block (RFC 8285), replacing one of the same id. Keeps the one-byte form where
    it can, the packet's two-byte form when it has one; payload and RTP padding are left as
    they are."""
    if len(packet) < RTP_HEADER_BYTES or packet[0] >> 6 != 2:
        raise ValueError("not an RTP packet (shorter than 12 bytes or version is not 2)")
    if not 1 <= extension_id <= 255 or not 1 <= len(data) <= 255:
        raise ValueError(f"header extension id {extension_id} with {len(data)} bytes: "
                         "give an id of 1-255 and 1-255 bytes")
    start = RTP_HEADER_BYTES + 4 * (packet[0] & 0x0F)  # after the CSRC list
    end, profile, elements = start, ONE_BYTE_PROFILE, []
    if packet[0] & 0x10:
        if len(packet) < start + 4:
            raise ValueError("RTP packet ends inside its header extension header")
        profile, words = struct.unpack_from("!HH", packet, start)
        end = start + 4 + 4 * words
        if end > len(packet):
            raise ValueError("RTP header extension runs past the end of the packet")
        elements = _read_elements(profile, packet[start + 4:end])
    elements = [(i, d) for i, d in elements if i != extension_id] + [(extension_id, data)]
    block = _write_elements(elements, two_byte=profile != ONE_BYTE_PROFILE)
    return bytes([packet[0] | 0x10]) + packet[1:start] + block + packet[end:]


def _read_elements(profile: int, body: bytes) -> list[tuple[int, bytes]]:
    elements: list[tuple[int, bytes]] = []
    two_byte = profile & 0xFFF0 == TWO_BYTE_PROFILE
    if profile != ONE_BYTE_PROFILE and not two_byte:
        raise ValueError(f"RTP header extension profile 0x{profile:04x} is not RFC 8285's: "
                         "no element can be added to it")
    at = 0
    while at < len(body):
        if body[at] == 0:  # padding between elements
            at += 1
            continue
        if two_byte:
            if at + 2 > len(body):
                raise ValueError("two-byte header extension element cut short")
            number, length, at = body[at], body[at + 1], at + 2
        else:
            number, length, at = body[at] >> 4, (body[at] & 0x0F) + 1, at + 1
            if number == 15:  # reserved: stop reading (RFC 8285 §4.2)
                break
        if at + length > len(body):
            raise ValueError(f"header extension element {number} runs past its block")
        elements.append((number, body[at:at + length]))
        at += length
    return elements


def _write_elements(elements: list[tuple[int, bytes]], two_byte: bool) -> bytes:
    two_byte = two_byte or any(not 1 <= i <= 14 or len(d) > 16 for i, d in elements)
    body = b"".join((bytes([i, len(d)]) if two_byte else bytes([i << 4 | len(d) - 1])) + d
                    for i, d in elements)
    body += bytes(-len(body) % 4)
    profile = TWO_BYTE_PROFILE if two_byte else ONE_BYTE_PROFILE
    return struct.pack("!HH", profile, len(body) // 4) + body
