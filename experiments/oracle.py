"""The oracle delay: the earliest a frame could have been shown.

Given the frame's bytes on the wire, the time its first packet could leave the sender and the
link's trace, the oracle puts the whole frame on an *empty* link at once: its bytes take the
first delivery opportunities strictly after the send time (a packet cannot leave in the same
millisecond it arrives, as in Mahimahi's link queue), 1500 bytes per opportunity, then cross
the propagation delay; the receiver decodes it in `decode_ms`. Nothing queued ahead of it,
no pacing, no loss. Measured delay minus oracle delay is what the system added.

The frame's delay is counted from its capture, like the measured delay, so encode time is in
both: `sent_ms` − `captured_ms`.
"""

from __future__ import annotations

from netem.link import oracle_delivery_ms
from netem.trace import Trace


def oracle_arrival_ms(trace: Trace, sent_ms: float, wire_bytes: int) -> float:
    """When the last byte of a `wire_bytes` burst sent at `sent_ms` leaves an empty link.

    The link model's own rule (netem.link.oracle_delivery_ms), so oracle and link agree.
    """
    return float(oracle_delivery_ms(trace, int(wire_bytes), sent_ms))


def oracle_delay_ms(
    trace: Trace,
    *,
    captured_ms: float,
    sent_ms: float,
    wire_bytes: int,
    propagation_ms: float,
    decode_ms: float = 0.0,
) -> float:
    """Capture-to-display delay of a frame alone on the link (see the module docstring)."""
    if sent_ms < captured_ms:
        raise ValueError(f"sent_ms {sent_ms} is before captured_ms {captured_ms}")
    arrival = oracle_arrival_ms(trace, sent_ms, wire_bytes)
    return arrival + propagation_ms + decode_ms - captured_ms
