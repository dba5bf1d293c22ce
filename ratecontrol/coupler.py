"""The frame-budget coupler: size each frame for what the network can carry right now.

Salsify's lesson (NSDI 2018) on a standard codec: the encoder is told, per frame, how many bytes
the path takes without building a queue, and a frame is skipped rather than queued.

* Link rate (`capacity_bps`): a packet that reached the bottleneck before its predecessor left
  (send time + base delay <= predecessor's arrival) waited, so the arrival gap between them is
  pure service time; bytes over summed busy gaps in the last `capacity_window_ms` of arrivals (a
  gap that began before the window counts only its part inside) is the rate the link had while
  busy; a gap of seconds counts too (ATT-LTE-driving's outages pass one packet a second: left
  out, they left no estimate, and the queue was drained at a stale rate of megabits a second, so
  17-30 KB frames went into the outage). Optionally cautious: never above the
  `cautious_quantile` of the busy rates of `cautious_bin_ms` (100 ms) slices over
  `cautious_history_ms` (1 s). Off by default (1.0): in the simulator 0.2 lowered p95 signal
  delay (Verizon-LTE-short 187 -> 163 ms, `cellular` 130 -> 101 ms), but a real call's arrival
  times jitter, its 100 ms slices are noisy, and a real 1 Mbit/s constant link was then sent 415
  kbit/s (0.5: above 700). None when the link was not busy lately (it is faster than we send).
* Queue now (`queued_bytes`): the newest acknowledged packet (the anchor) left the bottleneck
  `queue_delay_ms` after it was sent (one-way delay above the minimum of the last
  `BASE_DELAY_WINDOW_MS`); what was sent after it and before that moment was queued behind it
  then, and from then on the link drains at the drain rate while each byte sent is added
  (credited at most `FEEDBACK_GRACE_MS` past the newest feedback: silence is not progress);
  bytes still in the pacer count too. The anchor itself has arrived.
* Budget: rate x (time since the last sent frame, 1 to `max_credit_frames` intervals: by default
  1, as a skipped frame's share spent on the next one queues behind it) + the standing queue
  worth keeping (`target_delay_ms` of the link rate, at least `min_queue_bytes`: a link stays
  busy, and its rate known, only with bytes waiting; none while the link rate is unknown) -
  queued. Every `BASE_REFRESH_INTERVAL_MS` the standing queue is let go and the rate cut to
  `BASE_REFRESH_RATE_FRACTION` for a moment, so that a queue the estimate missed (a base delay
  that already holds one) drains and the minimum delay stays true. Skip when the budget is below
  `min_frame_bytes` (or 5 % of a nominal frame: a small frame costs the frames after it less
  delay than a skip costs this one), or when the wait the newest feedback shows, projected to
  now, is longer than `skip_queue_delay_ms` plus what the intended queue and frame take.
  Projected: a queue's wait shrinks by one ms per ms whatever the link's rate, and grows by what
  was sent since, counted `skip_wait_margin` times at the measured link rate (which lags a
  slowing link). When that congestion is short (a frame sent now would wait at most
  `congested_frame_max_wait_ms`), feedback came in the last `CONGESTED_FRAME_SILENCE_MS` (five
  feedback intervals: a silence may be an outage's start, where each small frame is one more
  packet behind it), no loss was reported in the last `CONGESTED_FRAME_AFTER_LOSS_MS` (while
  resends repair a loss, frames after it cannot be shown anyway, and each one completed starts
  the receiver's give-up clock on the frames still waiting: a 20-packet burst was then repaired
  9 of 20 in a real call) and the link is not slow (the frame is at most `CONGESTED_FRAME_SHARE`
  of a frame interval's drain), a `congested_frame_bytes` frame is sent instead of none: it is
  seen behind the queue either way, and skipped it would be seen only as the next frame
  (Salsify's signal delay charges the skip). Measured in the simulator (60 s, 20 ms), p95 signal
  delay with headroom.py on: `cellular` 85 -> 74 ms, Verizon-LTE-short 139 -> 113 ms, for
  0.1-0.7 dB of SSIM (a small frame is a poor picture); with no wait limit ATT-LTE-driving lost
  1.4 dB to small frames shown seconds late after its outage, hence the limit; the silence rule
  took ATT from 7,307 to 7,246 ms.
* Keyframes: at most `max_keyframe_ms` of the rate minus the queue.
* Silence: with no feedback for `STALE_FEEDBACK_MS`, or only `early_quiet_ms` (300 ms) on a fast
  link (one where frames of the last encoded size, one per `quiet_frame_interval_ms`, take at
  most `early_quiet_share` of the drain rate): one `min_frame_bytes` frame per
  `quiet_frame_interval_ms` (100 ms) while the bytes not yet acknowledged would drain in
  `quiet_backlog_ms` (300 ms) at the link's last rate, one per `stale_frame_interval_ms` (1 s)
  beyond that, and from `quiet_rate_after_ms` (250 ms) later on never more often than the last
  encoded frame's size allows at `quiet_rate_bps` (40 kbit/s, under the controller's 50 kbit/s
  floor); nothing else (whatever credit the silence built up). A silence is the media link's
  outage (what is sent then waits behind it) or the feedback link's (the media still flows):
  ATT-LTE-driving's uplink falls silent for seconds a dozen times while its downlink carries the
  video, and one frame a second froze the picture through each; the bound keeps what a media
  outage can hold to 300 ms of the link's rate once it returns. The rate cap because the
  encoder's smallest 640x480 frame is 1.4-2.4 KB, not 200 bytes: ten a second sent 115 kbit/s
  into a dead link in a real 5 s outage. The early start and the uncapped first 250 ms because
  ATT's uplink silences (2-3.4 s while the media flows) otherwise left 0.7 s with nothing sent,
  then frames 400 ms apart: in the simulator (whole ATT trace, medians of 4 seeds) frozen time
  68.2 -> 62.0 s and p95 signal delay 482 -> 448 ms, SSIM unchanged; 300 ms on every link hurt
  slow ones (TMobile-UMTS 60 s 6.2 -> 8.1 s), where a silence is more often an outage.
  Learned per path: the first feedback on what was sent in a silence tells which it was (all
  arrived, none waiting more than `mute_wait_ms` (100 ms): the feedback alone was mute); after
  `trust_after_mute` (2) such silences in a row, the next gets one quiet frame per
  `quiet_frame_interval_ms` for up to `trusted_silence_ms` (4 s), with no backlog or rate cap,
  and any silence whose packets waited ends the trust. The first silence of a call (a fault's
  outage) is never trusted. Simulator, whole ATT trace, medians of 4 seeds: p95 signal delay
  439 -> 417 ms, frozen 61.8 -> 53.9 s; TMobile-UMTS, Verizon-EVDO (60 s), Verizon-LTE-short
  and TMobile-LTE-short (whole) unchanged. Trusting after one silence, or a 250 ms wait limit,
  gave ATT 377 ms but TMobile-UMTS 6.1 -> 8.9 s and Verizon-EVDO 2.0 -> 2.2 s or more.
* Expected wait: the first packet of each frame is reported (`on_packet_sent`) with the wait
  the queue model gives it, so that headroom.py can tell a link that kept its rate from one
  that did not.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from ratecontrol.types import FrameDecision, PacketResult, SentPacket

BASE_REFRESH_INTERVAL_MS = 5000.0  # every 5 s ...
BASE_REFRESH_DURATION_MS = 200.0  # ... keep no standing queue for 200 ms,
BASE_REFRESH_RATE_FRACTION = 0.7  # ... and send at this fraction of the rate,
BASE_DELAY_WINDOW_MS = 2 * BASE_REFRESH_INTERVAL_MS + BASE_REFRESH_DURATION_MS  # so min sees it
CAPACITY_WINDOW_MS = 500.0  # busy-period samples (receiver time) the capacity estimate uses
MIN_BUSY_SPAN_MS = 20.0  # less busy time than this in the window: no capacity estimate
STALE_FEEDBACK_MS = 1000.0
FEEDBACK_GRACE_MS = 100.0  # drain is credited at most this long past the newest feedback
MIN_USEFUL_FRACTION = 0.05
MAX_CREDIT_FRAMES = 1.0  # a skipped frame's share does not pass on: a double frame queues
MAX_TRACKED_PACKETS = 20_000
CONGESTED_FRAME_SHARE = 0.1  # a frame sent while congested takes at most this of the link
CONGESTED_FRAME_SILENCE_MS = 250.0  # ... and none is sent after this long without feedback
CONGESTED_FRAME_AFTER_LOSS_MS = 1000.0  # ... nor this long after a loss (resends pending)


@dataclass(frozen=True, slots=True)
class CouplerConfig:
    target_delay_ms: float = 5.0  # standing queue allowed, in ms of the link's rate
    min_frame_bytes: int = 200  # below this a frame is not worth sending
    min_queue_bytes: int = 1000  # a link stays busy (and its rate known) only with bytes waiting
    skip_queue_delay_ms: float = 20.0  # newest feedback shows a longer wait: skip the frame,
    skip_queue_scale: float = 1.0  # ... plus this x the time the intended queue + frame take
    skip_wait_margin: float = 2.0  # bytes sent since the newest acked one count this many times
    max_keyframe_ms: float = 150.0  # a keyframe may take this long to drain at the rate
    capacity_window_ms: float = CAPACITY_WINDOW_MS  # busy time the link-rate estimate spans
    cautious_history_ms: float = 1000.0  # the link's busy rates over this long ...
    cautious_bin_ms: float = 100.0  # ... in slices this long ...
    cautious_quantile: float = 1.0  # ... at this quantile bound the estimate (1: no bound;
    # see the module doc for why that is the default)
    stale_frame_interval_ms: float = 1000.0  # while feedback is stale: one small frame per this
    quiet_frame_interval_ms: float = 100.0  # ... or per this while what is unacknowledged
    quiet_backlog_ms: float = 300.0  # ... would drain in this long at the drain rate,
    quiet_rate_bps: float = 40_000.0  # ... and never faster than this by the last frame's size
    quiet_rate_after_ms: float = 250.0  # ... once the silence is this much past stale
    early_quiet_ms: float = 300.0  # silence this long is stale on a fast link: one where ...
    early_quiet_share: float = 0.5  # ... quiet frames each interval take at most this share
    mute_wait_ms: float = 100.0  # a silence whose packets all waited at most this: mute feedback
    trust_after_mute: int = 2  # after this many such silences in a row, the next one ...
    trusted_silence_ms: float = 4000.0  # ... gets a quiet frame per interval for this long
    max_credit_frames: float = MAX_CREDIT_FRAMES  # a skipped frame's share passes on, to this
    congested_frame_bytes: int = 300  # while congested, a frame this small rather than none,
    congested_frame_max_wait_ms: float = 250.0  # ... when the wait it meets is at most this


class FrameBudgetCoupler:
    def __init__(self, config: CouplerConfig | None = None) -> None:
        self.config = config or CouplerConfig()
        self._sent: deque[SentPacket] = deque()  # in send order
        self._base: deque[tuple[float, float]] = deque()  # (time, owd), owd increasing
        self._anchor_sent_ms: float | None = None
        self._anchor_seq = -1
        self._anchor_queue_ms = 0.0
        self._last_feedback_ms: float | None = None
        self._last_frame_ms: float | None = None
        self._last_frame_bytes = 0  # the newest encoded frame's size
        self._unsent: deque[float] = deque()  # per encoded frame: bytes not yet sent ...
        self._frame_sizes: deque[float] = deque()  # ... of its whole size
        self._drain_bps = 1.0  # the rate the last budget drained the queue at
        self._last_loss_ms = -math.inf  # when feedback last reported a packet lost
        self.queue_delay_ms = 0.0
        self._busy: deque[tuple[float, int, float]] = deque()  # (arrival, bytes, busy gap ms)
        self._newest_arrival_ms = 0.0
        self._capacity: tuple[float | None] | None = None  # capacity_bps until the next feedback
        self._last_received: PacketResult | None = None
        self._silence_from_ms: float | None = None  # a silence's start, until its verdict
        self._mute_streak = 0  # silences in a row in which only the feedback was mute

    def on_packet_sent(self, packet: SentPacket) -> float | None:
        """Counts the packet in the queue. When it is the first of a frame: the wait at the
        bottleneck the queue model expects for it now (ms), else None."""
        if not math.isfinite(packet.sent_ms):
            return None
        expected = None
        if not packet.is_audio and self._unsent and self._unsent[0] == self._frame_sizes[0]:
            # What is queued ahead of it, and two packets' time: a link serves in whole slots,
            # so the packet may wait for its own and for one it just missed.
            ahead = self.queued_bytes(self._drain_bps, packet.sent_ms) - self.pacer_backlog_bytes()
            expected = 8000.0 * (max(ahead, 0.0) + 2 * packet.size_bytes) / self._drain_bps
        self._sent.append(packet)
        if len(self._sent) > MAX_TRACKED_PACKETS:  # feedback never came: forget the oldest
            self._sent.popleft()
        if packet.is_audio or not self._unsent:
            return None  # sound is no part of a frame
        # Packets carry headers too: a frame is done once its payload's worth has left.
        left = float(max(packet.size_bytes, 0))
        while left > 0 and self._unsent:
            taken = min(left, self._unsent[0])
            self._unsent[0] -= taken
            left -= taken
            if self._unsent[0] <= 0:
                self._unsent.popleft()
                self._frame_sizes.popleft()
                break
        return expected

    def on_frame_encoded(self, size_bytes: int) -> None:
        if size_bytes > 0:
            self._last_frame_bytes = size_bytes
            self._unsent.append(float(size_bytes))
            self._frame_sizes.append(float(size_bytes))

    def base_delay_ms(self) -> float | None:
        """The smallest one-way delay of the last `BASE_DELAY_WINDOW_MS`: the empty path's."""
        return self._base[0][1] if self._base else None

    def feedback_flowing(self, now_ms: float) -> bool:
        return self._since_feedback_ms(now_ms) <= STALE_FEEDBACK_MS

    def _since_feedback_ms(self, now_ms: float) -> float:
        """Time since the newest feedback that reported arrivals (inf before any)."""
        return math.inf if self._last_feedback_ms is None else now_ms - self._last_feedback_ms

    def pacer_backlog_bytes(self) -> float:
        return sum(self._unsent)

    def on_feedback(self, results: list[PacketResult], now_ms: float) -> None:
        if any(r.arrived_ms is None for r in results):
            self._last_loss_ms = now_ms
        received = [r for r in results if r.arrived_ms is not None and r.times_finite]
        if not received:
            return
        last = self._last_feedback_ms
        if last is not None and now_ms - last > self.config.early_quiet_ms:
            self._silence_from_ms = last
        self._last_feedback_ms = now_ms
        for r in received:
            assert r.arrived_ms is not None
            owd = r.arrived_ms - r.sent_ms
            while self._base and self._base[-1][1] >= owd:
                self._base.pop()
            self._base.append((now_ms, owd))
        while len(self._base) > 1 and now_ms - self._base[0][0] > BASE_DELAY_WINDOW_MS:
            self._base.popleft()
        self._judge_silence(results)
        self._add_busy_samples(received)
        self._capacity = None  # the busy samples changed
        newest = max(received, key=lambda r: (r.sent_ms, r.transport_seq))
        anchor = self._anchor_sent_ms
        if anchor is not None and (newest.sent_ms, newest.transport_seq) <= (
            anchor, self._anchor_seq
        ):
            return  # old news (reordered or duplicated feedback)
        assert newest.arrived_ms is not None
        base_owd = self._base[0][1] if self._base else newest.arrived_ms - newest.sent_ms
        self._anchor_sent_ms, self._anchor_seq = newest.sent_ms, newest.transport_seq
        while self._sent and (self._sent[0].sent_ms, self._sent[0].transport_seq) < (
            newest.sent_ms, newest.transport_seq
        ):
            self._sent.popleft()  # only the anchor and what was sent since still matter
        self._anchor_queue_ms = max(newest.arrived_ms - newest.sent_ms - base_owd, 0.0)
        self.queue_delay_ms = self._anchor_queue_ms

    def _judge_silence(self, results: list[PacketResult]) -> None:
        """Count the silences in a row in which only the feedback was mute."""
        if self._silence_from_ms is None:
            return
        mute = self.only_feedback_was_mute(results, self._silence_from_ms)
        if mute is not None:
            self._mute_streak = self._mute_streak + 1 if mute else 0
            self._silence_from_ms = None

    def only_feedback_was_mute(self, results: list[PacketResult], since_ms: float) -> bool | None:
        """The verdict of `results` on a silence since `since_ms`: True if what was sent in it
        all arrived, none waiting more than `mute_wait_ms` above the base delay (the media link
        carried it: only the feedback was mute), False if not, None if they tell nothing of
        what was sent in it."""
        during = [r for r in results if r.sent_ms > since_ms]
        if not during or not self._base:
            return None
        base_owd = self._base[0][1]
        return all(r.arrived_ms is not None
                   and r.arrived_ms - r.sent_ms - base_owd <= self.config.mute_wait_ms
                   for r in during)

    def _add_busy_samples(self, received: list[PacketResult]) -> None:
        """A packet that reached the bottleneck before its predecessor left it (sent + base
        delay <= predecessor's arrival) waited: the link was busy between the two arrivals,
        so the gap is pure service time. Bytes over summed busy gaps is the link's rate."""
        if not self._base:
            return
        base_owd = self._base[0][1]
        previous = self._last_received
        for r in sorted(received, key=lambda r: r.transport_seq):
            if previous is not None and r.transport_seq == previous.transport_seq + 1:
                assert r.arrived_ms is not None and previous.arrived_ms is not None
                gap_ms = r.arrived_ms - previous.arrived_ms
                waited = r.sent_ms + base_owd <= previous.arrived_ms
                if waited and gap_ms >= 0.0:
                    self._busy.append((r.arrived_ms, r.size_bytes, gap_ms))
            if previous is None or r.transport_seq > previous.transport_seq:
                previous = r
        self._last_received = previous
        if previous is not None and previous.arrived_ms is not None:
            self._newest_arrival_ms = previous.arrived_ms
            keep_ms = max(self.config.capacity_window_ms, self.config.cautious_history_ms)
            while self._busy and previous.arrived_ms - self._busy[0][0] > keep_ms:
                self._busy.popleft()

    def capacity_bps(self) -> float | None:
        """The link's rate, cautiously: the lower of its busy rate over `capacity_window_ms`
        and the `cautious_quantile` of its busy rates in `cautious_bin_ms` slices of the last
        `cautious_history_ms` (on a steady link they agree; on a variable one the slow slices
        are what the next frame may meet). Kept until the next feedback: the pacer and every
        frame ask, and only feedback changes it."""
        if self._capacity is None:
            self._capacity = (self._capacity_now(),)
        return self._capacity[0]

    def _capacity_now(self) -> float | None:
        cfg = self.config
        long = self.busy_rate_bps(cfg.capacity_window_ms)
        if long is None or cfg.cautious_quantile >= 1.0:
            return long
        bins: dict[int, list[float]] = {}
        newest = self._newest_arrival_ms
        for arrived_ms, size, gap_ms in self._busy:
            if newest - arrived_ms < cfg.cautious_history_ms:
                key = int((newest - arrived_ms) // cfg.cautious_bin_ms)
                slot = bins.setdefault(key, [0.0, 0.0])
                slot[0] += size
                slot[1] += gap_ms
        rates = sorted(8000.0 * b / ms for b, ms in bins.values() if ms >= MIN_BUSY_SPAN_MS)
        if len(rates) < 2:
            return long
        return min(long, rates[int(cfg.cautious_quantile * (len(rates) - 1))])

    def busy_rate_bps(self, window_ms: float) -> float | None:
        """The bottleneck's rate while it was busy in the last `window_ms` of arrivals, if
        known; a busy stretch that began before the window counts only its part inside (so an
        outage's long gaps leave the estimate as the window passes them)."""
        start_ms = self._newest_arrival_ms - window_ms
        busy_ms = 0.0
        busy_bytes = 0.0
        for arrived_ms, size, gap_ms in self._busy:
            inside_ms = min(gap_ms, arrived_ms - start_ms)
            if inside_ms < 0 or (inside_ms == 0 and gap_ms > 0):
                continue
            busy_ms += inside_ms
            busy_bytes += size * inside_ms / gap_ms if gap_ms > 0 else size
        if busy_ms < MIN_BUSY_SPAN_MS:
            return None
        return 8000.0 * busy_bytes / busy_ms

    def queued_bytes(self, drain_bps: float, now_ms: float) -> float:
        """Bytes estimated to wait at the bottleneck now, plus those still in the pacer."""
        drain_bytes_per_ms = max(drain_bps, 0.0) / 8000.0
        pacer = self.pacer_backlog_bytes()
        anchor = self._anchor_sent_ms
        if anchor is None:  # no feedback yet: what left in the last 200 ms may still wait
            return pacer + sum(p.size_bytes for p in self._sent if now_ms - p.sent_ms < 200.0)
        last_fb = self._last_feedback_ms if self._last_feedback_ms is not None else now_ms
        credit_end_ms = min(now_ms, last_fb + FEEDBACK_GRACE_MS)
        # The anchor left the bottleneck `_anchor_queue_ms` after it was sent: what was sent
        # before that is queued behind it then, and the link drains only from that moment on.
        # (Not "its wait x the rate was ahead of it": a packet that waited out an outage had
        # nothing ahead of it, and the rate measured before the outage never drained it.)
        left_ms = anchor + self._anchor_queue_ms
        queue = 0.0
        last_ms = left_ms
        for packet in self._sent:
            if packet.transport_seq == self._anchor_seq:
                continue  # the anchor itself has arrived
            step_end = min(packet.sent_ms, credit_end_ms)
            queue = max(queue - drain_bytes_per_ms * max(step_end - last_ms, 0.0), 0.0)
            last_ms = max(last_ms, step_end)
            queue += packet.size_bytes
        queue = max(queue - drain_bytes_per_ms * max(credit_end_ms - last_ms, 0.0), 0.0)
        return queue + pacer

    def projected_wait_ms(self, capacity_bps: float | None, now_ms: float) -> float:
        """The wait a packet sent now would see, from the newest feedback's: that packet's wait
        less the time since it was sent (a queue drains one ms of wait per ms, at any rate),
        plus the bytes sent after it at the link rate, `skip_wait_margin` times over. Without
        a measured link rate: the newest feedback's wait as it is. Never more than that wait:
        it only lets a stale report lapse (after a skip the queue it saw has drained; without
        this, frames kept being skipped for a whole report's wait after the queue was gone)."""
        wait = self.queue_delay_ms
        anchor = self._anchor_sent_ms
        if anchor is None or capacity_bps is None or capacity_bps <= 0:
            return wait
        since_bytes = sum(p.size_bytes for p in self._sent if p.sent_ms > anchor)
        grown_ms = self.config.skip_wait_margin * since_bytes * 8000.0 / capacity_bps
        return min(wait, max(wait - (now_ms - anchor), 0.0) + grown_ms)

    def decide(
        self,
        rate_bps: float,
        capacity_bps: float | None,
        acked_bps: float | None,
        now_ms: float,
        frame_interval_ms: float,
    ) -> FrameDecision:
        """The next frame's budget at `rate_bps`. `capacity_bps` is the link's measured rate
        (None while the link was not busy lately: then the queue drains at least as fast as we
        send, and no standing queue is worth keeping)."""
        cfg = self.config
        interval_ms = frame_interval_ms if 0 < frame_interval_ms < 10_000 else 1000.0 / 30.0
        rate_bytes_per_ms = max(rate_bps, 0.0) / 8000.0
        if capacity_bps is None:
            drain_bps = max(rate_bps, acked_bps or 0.0)
            allowed_queue = 0.0
        else:
            drain_bps = capacity_bps
            allowed_queue = max(capacity_bps / 8000.0 * cfg.target_delay_ms,
                                float(cfg.min_queue_bytes))
        queued = self.queued_bytes(drain_bps, now_ms)
        self._drain_bps = max(drain_bps, 1.0)
        refresh = now_ms % BASE_REFRESH_INTERVAL_MS < BASE_REFRESH_DURATION_MS
        if refresh and self._anchor_sent_ms is not None:  # (before any feedback: no queue)
            # Let the queue empty, so that the base delay shows; frames smaller for a moment,
            # for a queue the estimate missed (a base delay that already holds a queue).
            allowed_queue = 0.0
            rate_bytes_per_ms *= BASE_REFRESH_RATE_FRACTION
        # A skipped frame leaves its share to the next one (up to `max_credit_frames`).
        since_ms = interval_ms if self._last_frame_ms is None else now_ms - self._last_frame_ms
        credit_ms = min(max(since_ms, interval_ms), cfg.max_credit_frames * interval_ms)
        budget = rate_bytes_per_ms * credit_ms + allowed_queue - queued
        intended_ms = (allowed_queue + rate_bytes_per_ms * interval_ms) / max(
            drain_bps / 8000.0, 1e-9
        )
        # While feedback flows and packets follow the newest acknowledged one, its wait is the
        # best word on the queue they meet (drain-rate estimates lag when a link slows down).
        heard_ms = self._since_feedback_ms(now_ms)
        flowing = heard_ms < FEEDBACK_GRACE_MS and len(self._sent) > 1
        limit_ms = cfg.skip_queue_delay_ms + cfg.skip_queue_scale * intended_ms
        projected_ms = self.projected_wait_ms(capacity_bps, now_ms)
        if flowing and projected_ms > limit_ms:
            budget = 0.0  # the path is congested now, whatever the rate estimates say
        # What quiet frames would send: the encoder's last frame is about what the next takes.
        quiet_bps = 8000.0 * self._last_frame_bytes / cfg.quiet_frame_interval_ms
        trusted = self._mute_streak >= cfg.trust_after_mute and heard_ms <= cfg.trusted_silence_ms
        stale_ms = (cfg.early_quiet_ms if trusted or quiet_bps <= cfg.early_quiet_share * drain_bps
                    else STALE_FEEDBACK_MS)
        stale = math.isfinite(heard_ms) and heard_ms > stale_ms
        nominal = rate_bytes_per_ms * interval_ms
        keyframe_cap = rate_bytes_per_ms * cfg.max_keyframe_ms - queued
        minimum = min(max(cfg.min_frame_bytes, MIN_USEFUL_FRACTION * nominal), nominal)
        congested_frame = float(cfg.congested_frame_bytes)
        # The wait a frame sent now meets, by the newest report or by the bytes queued.
        meets_ms = max(projected_ms, 8000.0 * queued / max(drain_bps, 1.0))
        if budget < minimum and meets_ms <= cfg.congested_frame_max_wait_ms and heard_ms < (
            CONGESTED_FRAME_SILENCE_MS  # a dip the feedback shows, not an outage's start
        ) and now_ms - self._last_loss_ms > CONGESTED_FRAME_AFTER_LOSS_MS and (
            0 < congested_frame <= CONGESTED_FRAME_SHARE * drain_bps / 8000.0 * interval_ms
        ):
            budget = minimum = congested_frame
        if stale:  # no word from the receiver: a sign of life now and then, nothing more
            last = self._last_frame_ms
            unacked = sum(p.size_bytes for p in self._sent if p.transport_seq != self._anchor_seq)
            risk_ms = 8000.0 * unacked / max(drain_bps, 1.0)
            every_ms = (cfg.quiet_frame_interval_ms if trusted or risk_ms <= cfg.quiet_backlog_ms
                        else cfg.stale_frame_interval_ms)
            # The encoder's smallest frame may be far above `min_frame_bytes` (at its highest
            # quantizer a 640x480 frame takes about 1.4 KB): space them by what they take.
            if not trusted and heard_ms > stale_ms + cfg.quiet_rate_after_ms:
                every_ms = max(every_ms, 8000.0 * self._last_frame_bytes / cfg.quiet_rate_bps)
            if last is None or now_ms - last >= every_ms:
                budget = float(cfg.min_frame_bytes)
                minimum = float(cfg.min_frame_bytes)
            else:
                budget = 0.0
        if not math.isfinite(budget) or budget < minimum:
            return FrameDecision(send=False, target_bytes=0, max_keyframe_bytes=0)
        self._last_frame_ms = now_ms
        target = int(budget)
        return FrameDecision(
            send=True, target_bytes=target, max_keyframe_bytes=max(target, int(keyframe_cap))
        )
