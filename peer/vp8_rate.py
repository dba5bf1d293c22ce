"""Rate steering for peer.vp8_encoder: a learned quantizer→size model and a frame budget.

Both are sans-I/O: the encoder tells them what libvpx produced and asks them for the next
quantizer or per-frame size target.

Why a learned curve rather than one slope: how fast frames shrink as the quantizer rises
depends on the content and on the quantizer itself. On the project's test pattern (640x480,
libvpx 1.16, quantizer pinned) the size halves every 3–8 rc quantizer steps between 2 and
14, but only every 20–40 steps between 18 and 54 (the sensor noise is quantized away early;
what is left is texture, motion vectors and modes). One fixed slope (9 steps per halving)
moved the quantizer about a third as far as needed after a rate step, then crept to the
right value over ten frames or more.

Why a reference term: the first frame coded well below the previous quantizer also has to
refine the whole coarser reference picture. Measured on the test pattern after rate steps
(quantizer dropping 24–35 steps in one frame): that frame is 2^(0.038..0.041 per step) times
the size of later frames at the same quantizer; after a rise, 2^(−0.022 per step).

Why a veto from the last frame at a quantizer: the curve is smooth, and a size can step
between neighbouring quantizers. On the test pattern at 640x480 a frame is 7.2-8.4 KB at
quantizer 5 and 16.5-17.4 KB at 4. The curve learns the step from one frame at 4, then the
frames at 5 pull 4's prediction back down (17.4 -> 10.0 KB within ten frames), so a target
between the two got quantizer 4, twice its size, every 4-7 frames: in a real call on
`cellular` at 2 Mbit/s, frames of 17.6-19.8 KB against 8 KB targets, each shown 72-178 ms
late. A quantizer whose own frame of the last `VETO_FRAMES` came out more than
`VETO_OVERSHOOT` x the target is passed over for the next coarser one. Offline (our encoder,
450 frames, per-frame targets at 0.5-3.5 Mbit/s): frames over 1.5x their target 3.4 -> 1.4 %
and the p95 of size / target 1.48 -> 1.22 on the test pattern; on `clip:bikes` 4.1 -> 3.8 %
(5.6 -> 4.5 % on a ramp), with a little more undershoot (mean |log2| error 0.32 -> 0.34: real
content changes, and a veto can outlive the overshoot). 30 frames of memory cut the pattern's
overshoots no further and left `bikes` 9 % under its targets.
"""

from __future__ import annotations

import math

QUANTIZER_LEVELS = 64  # libvpx's rc quantizer scale, 0..63 (rc_min/max_quantizer)
MIN_HALVINGS_PER_STEP = 1 / 64  # the curve is kept falling at least this much per step
NEIGHBOUR_STEPS = 12.0  # an observation at q moves the curve at q ± 12 by 1/e of its weight
GLOBAL_SHARE = 0.1  # part of an observation's weight that moves the whole curve
REFINE_HALVINGS_PER_STEP = 0.04  # extra size per step below the reference's quantizer
COARSEN_HALVINGS_PER_STEP = 0.02  # less size per step above it
VETO_FRAMES = 10  # a quantizer's own frame among the last this many ...
VETO_OVERSHOOT = 1.25  # ... that came out over this x the target passes it over


class QuantizerSizeModel:
    """Frame size against rc quantizer (0..63), learned online from what libvpx produced.

    Expected log2(bytes) at q = curve[q] + reference term, where the reference term is
    `refine` halvings per step that q lies below the previous frame's quantizer (that frame
    is the reference: its coarser picture must be refined) and −`coarsen` per step above.

    The curve starts as a straight line through the first observation, falling one halving
    every `steps_per_halving` steps. Each later observation (q, size) moves the curve towards
    what it saw: by `smoothing` at q, less at neighbouring quantizers (a kernel of
    NEIGHBOUR_STEPS), and by GLOBAL_SHARE·smoothing everywhere (content that got easier or
    harder moves all quantizers). The curve is kept falling with q, so that quantizer_for()
    can invert it; it remembers the shape it saw at quantizers used earlier.
    """

    def __init__(
        self,
        steps_per_halving: float,
        smoothing: float,
        refine: float = REFINE_HALVINGS_PER_STEP,
        coarsen: float = COARSEN_HALVINGS_PER_STEP,
    ) -> None:
        if steps_per_halving <= 0 or not 0 < smoothing <= 1:
            raise ValueError("size model: steps_per_halving > 0 and smoothing in (0, 1]")
        if refine < 0 or coarsen < 0:
            raise ValueError("size model: reference terms must be >= 0 halvings per step")
        self.steps_per_halving = steps_per_halving
        self.smoothing = smoothing
        self.refine = refine
        self.coarsen = coarsen
        self.log2_bytes: list[float] | None = None  # the curve, indexed by rc quantizer
        self.reference_quantizer: int | None = None
        self._frames = 0  # observations so far
        self._last_at: dict[int, tuple[int, float]] = {}  # q -> (observation, log2 bytes)
        global_weight = GLOBAL_SHARE * smoothing
        self._weights = [  # by distance from the observed quantizer
            global_weight + (smoothing - global_weight) * math.exp(-d / NEIGHBOUR_STEPS)
            for d in range(QUANTIZER_LEVELS)
        ]

    def on_reference(self, quantizer: int) -> None:
        """The next frame predicts from a frame coded at `quantizer` (e.g. a keyframe)."""
        self.reference_quantizer = _clamp(quantizer)

    def observe(self, quantizer: int, size_bytes: int) -> None:
        """A frame of `size_bytes` was coded at `quantizer`; it is the next one's reference."""
        q = _clamp(quantizer)
        sample = math.log2(max(size_bytes, 1)) - self._reference_term(q)
        self._frames += 1
        self._last_at[q] = (self._frames, sample)
        self.reference_quantizer = q
        curve = self.log2_bytes
        if curve is None:
            self.log2_bytes = [
                sample - (k - q) / self.steps_per_halving for k in range(QUANTIZER_LEVELS)
            ]
            return
        error = sample - curve[q]
        for k in range(QUANTIZER_LEVELS):
            curve[k] += error * self._weights[abs(k - q)]
        for k in range(q + 1, QUANTIZER_LEVELS):  # keep it falling, anchored at q
            curve[k] = min(curve[k], curve[k - 1] - MIN_HALVINGS_PER_STEP)
        for k in range(q - 1, -1, -1):
            curve[k] = max(curve[k], curve[k + 1] + MIN_HALVINGS_PER_STEP)

    def predicted_bytes(self, quantizer: int) -> float | None:
        """The expected size of the next frame at `quantizer`; None before any observation."""
        if self.log2_bytes is None:
            return None
        q = _clamp(quantizer)
        return 2 ** (self.log2_bytes[q] + self._reference_term(q))

    def quantizer_for(self, target_bytes: int) -> int | None:
        """The quantizer expected to give `target_bytes` next; None before any observation.
        By the curve, then past every quantizer whose own recent frame overshot (module doc)."""
        q = self._curve_quantizer(target_bytes)
        if q is None:
            return None
        while q < QUANTIZER_LEVELS - 1 and self._overshot_at(q, target_bytes):
            q += 1
        return q

    def _curve_quantizer(self, target_bytes: int) -> int | None:
        curve = self.log2_bytes
        if curve is None:
            return None
        target = math.log2(max(target_bytes, 1))
        previous = curve[0] + self._reference_term(0)
        if previous <= target:
            return 0
        for k in range(1, QUANTIZER_LEVELS):
            expected = curve[k] + self._reference_term(k)
            if expected <= target:  # the crossing lies between k - 1 and k
                return round(k - 1 + (previous - target) / (previous - expected))
            previous = expected
        return QUANTIZER_LEVELS - 1

    def _overshot_at(self, quantizer: int, target_bytes: int) -> bool:
        """Whether the last frame at `quantizer`, if among the last VETO_FRAMES, came out over
        VETO_OVERSHOOT x `target_bytes` (with the reference term of the next frame)."""
        seen = self._last_at.get(quantizer)
        if seen is None or self._frames - seen[0] >= VETO_FRAMES:
            return False
        size = 2 ** (seen[1] + self._reference_term(quantizer))
        return size > VETO_OVERSHOOT * target_bytes

    def _reference_term(self, quantizer: int) -> float:
        if self.reference_quantizer is None:
            return 0.0
        steps = self.reference_quantizer - quantizer
        return steps * (self.refine if steps > 0 else self.coarsen)


def _clamp(quantizer: int) -> int:
    return min(max(quantizer, 0), QUANTIZER_LEVELS - 1)


class FrameBudget:
    """Leaky bucket turning a target rate into per-frame size targets.

    A frame's budget is rate × time since the previous frame (so skipped frames leave their
    bits to the next); the bytes over or under budget so far (the debt, capped at
    max_debt_s of rate) are paid back over repay_frames frames. On a rate change the bytes
    left unused (negative debt) are dropped: the network does not bank capacity, and
    spending them at the new rate would overshoot it. Bytes sent over budget stay owed.
    """

    def __init__(self, repay_frames: float, max_debt_s: float) -> None:
        if repay_frames < 1 or max_debt_s < 0:
            raise ValueError("frame budget: repay_frames >= 1 and max_debt_s >= 0")
        self.repay_frames = repay_frames
        self.max_debt_s = max_debt_s
        self.debt_bytes = 0.0
        self._budget_bytes = 0.0

    def on_rate_change(self) -> None:
        self.debt_bytes = max(self.debt_bytes, 0.0)

    def next_target_bytes(self, target_bps: float, gap_s: float) -> int:
        self._budget_bytes = target_bps * gap_s / 8
        target = self._budget_bytes - self.debt_bytes / self.repay_frames
        return round(min(max(target, self._budget_bytes / 4), self._budget_bytes * 4))

    def on_encoded(self, size_bytes: int, target_bps: float) -> None:
        """Account for a frame; frames encoded without a budget (keyframes) count whole."""
        self.debt_bytes += size_bytes - self._budget_bytes
        cap = target_bps / 8 * self.max_debt_s
        self.debt_bytes = min(max(self.debt_bytes, -cap), cap)
        self._budget_bytes = 0.0
