"""Inter-arrival grouping: packets sent within 5 ms form one group; deltas between groups.

Follows what libwebrtc uses today (`modules/congestion_controller/goog_cc/inter_arrival_delta`)
rather than draft-ietf-rmcat-gcc-02 §5.2, because the library groups by *send* time (what
transport-cc gives us) and also merges packets that arrived in a burst behind a queue:

* a group holds packets whose send times lie within `SEND_TIME_GROUP_LENGTH_MS` (5 ms) of the
  group's first packet;
* a packet also joins the current group when it arrived no more than `BURST_DELTA_THRESHOLD_MS`
  (5 ms) after the group's last arrival and earlier than its send spacing would predict, as long
  as the group spans less than `MAX_BURST_DURATION_MS` (100 ms) of arrivals;
* packets sent before the current group began are ignored (reordered);
  `REORDERED_RESET_THRESHOLD` consecutive negative arrival deltas reset the state, and so does an
  arrival gap above `ARRIVAL_GAP_RESET_MS` (an outage: the old groups tell nothing about now).

Input is the shared `PacketResult` (send time on the sender's clock, arrival on the receiver's);
only differences within one clock are used, so the clock offset does not matter.
"""

from __future__ import annotations

from dataclasses import dataclass

from ratecontrol.types import PacketResult

SEND_TIME_GROUP_LENGTH_MS = 5.0
BURST_DELTA_THRESHOLD_MS = 5.0
MAX_BURST_DURATION_MS = 100.0
REORDERED_RESET_THRESHOLD = 3
ARRIVAL_GAP_RESET_MS = 3000.0


@dataclass(frozen=True, slots=True)
class GroupDelta:
    """The change from one packet group to the next (all on each side's own clock)."""

    send_delta_ms: float
    arrival_delta_ms: float
    size_delta_bytes: int
    arrival_ms: float  # arrival of the newer group's last packet (receiver clock)
    send_ms: float  # send time of the newer group's last packet (sender clock)


class _Group:
    __slots__ = ("first_arrival_ms", "first_send_ms", "last_arrival_ms", "last_send_ms", "size")

    def __init__(self, send_ms: float, arrival_ms: float) -> None:
        self.first_send_ms = send_ms
        self.last_send_ms = send_ms
        self.first_arrival_ms = arrival_ms
        self.last_arrival_ms = arrival_ms
        self.size = 0


class InterArrival:
    """Feeds on received packets in arrival order; returns a `GroupDelta` when a group closes."""

    def __init__(self) -> None:
        self._current: _Group | None = None
        self._previous: _Group | None = None
        self._reordered = 0

    def reset(self) -> None:
        self._current = None
        self._previous = None
        self._reordered = 0

    def add(self, packet: PacketResult) -> GroupDelta | None:
        if packet.arrived_ms is None:
            return None
        send_ms, arrival_ms = packet.sent_ms, packet.arrived_ms
        current = self._current
        if current is None:
            self._current = _Group(send_ms, arrival_ms)
            self._current.size = packet.size_bytes
            return None
        if send_ms < current.first_send_ms:
            return None  # reordered: sent before the group we are building
        if arrival_ms - current.last_arrival_ms > ARRIVAL_GAP_RESET_MS:
            self.reset()
            return self.add(packet)
        delta: GroupDelta | None = None
        if self._starts_new_group(current, send_ms, arrival_ms):
            previous = self._previous
            if previous is not None:
                delta = GroupDelta(
                    send_delta_ms=current.last_send_ms - previous.last_send_ms,
                    arrival_delta_ms=current.last_arrival_ms - previous.last_arrival_ms,
                    size_delta_bytes=current.size - previous.size,
                    arrival_ms=current.last_arrival_ms,
                    send_ms=current.last_send_ms,
                )
                if delta.arrival_delta_ms < 0:
                    self._reordered += 1
                    if self._reordered >= REORDERED_RESET_THRESHOLD:
                        self.reset()
                    return None
                self._reordered = 0
            self._previous = current
            self._current = current = _Group(send_ms, arrival_ms)
        current.last_send_ms = max(current.last_send_ms, send_ms)
        current.last_arrival_ms = max(current.last_arrival_ms, arrival_ms)
        current.size += packet.size_bytes
        return delta

    @staticmethod
    def _starts_new_group(group: _Group, send_ms: float, arrival_ms: float) -> bool:
        send_delta = send_ms - group.last_send_ms
        if send_delta == 0:
            return False
        arrival_delta = arrival_ms - group.last_arrival_ms
        in_burst = (
            arrival_delta - send_delta < 0
            and arrival_delta <= BURST_DELTA_THRESHOLD_MS
            and arrival_ms - group.first_arrival_ms < MAX_BURST_DURATION_MS
        )
        if in_burst:
            return False
        return send_ms - group.first_send_ms > SEND_TIME_GROUP_LENGTH_MS
