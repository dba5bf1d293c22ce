"""The encoder's rate steering: the learned quantizer→size model and the frame budget."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from peer.vp8_rate import QUANTIZER_LEVELS, FrameBudget, QuantizerSizeModel


def _bent_sizes(q: int) -> float:
    """A curve like the test pattern's: steep at low quantizers, nearly flat above ~16."""
    return 1000 + 15_000 * 2 ** (-q / 3)


def test_size_model_inverts_itself() -> None:
    model = QuantizerSizeModel(steps_per_halving=8.0, smoothing=1.0, refine=0.0, coarsen=0.0)
    assert model.quantizer_for(1000) is None and model.predicted_bytes(30) is None
    model.observe(quantizer=30, size_bytes=4000)
    assert model.quantizer_for(4000) == 30
    assert model.quantizer_for(2000) == 38
    assert model.quantizer_for(8000) == 22
    assert model.quantizer_for(10**9) == 0
    assert model.quantizer_for(1) == QUANTIZER_LEVELS - 1


def test_reference_term_prices_refining_a_coarser_reference() -> None:
    model = QuantizerSizeModel(steps_per_halving=10.0, smoothing=1.0, refine=0.05, coarsen=0.025)
    model.observe(quantizer=40, size_bytes=1000)  # the first frame: no reference term yet
    # 10 steps below the reference: the curve doubles, refining adds 10 * 0.05 halvings.
    assert model.predicted_bytes(30) == pytest.approx(2000 * 2**0.5)
    assert model.predicted_bytes(50) == pytest.approx(500 * 2**-0.25)
    assert model.predicted_bytes(40) == pytest.approx(1000)
    assert model.quantizer_for(round(2000 * 2**0.5)) == 30
    # A keyframe coded at 20 becomes the reference: a frame at 30 is now coarser than it.
    model.on_reference(20)
    assert model.predicted_bytes(30) == pytest.approx(2000 * 2**-0.25)


def test_size_model_learns_a_bent_curve_and_lands_on_target_after_a_step() -> None:
    model = QuantizerSizeModel(steps_per_halving=9.0, smoothing=0.5, refine=0.0, coarsen=0.0)
    targets = [1500, 4000] * 6
    first_frame_errors = []
    for target in targets:
        for frame in range(10):
            q = model.quantizer_for(target)
            q = 30 if q is None else q
            size = _bent_sizes(q)
            if frame == 0:
                first_frame_errors.append(abs(math.log2(size / target)))
            model.observe(q, round(size))
    # One slope cannot fit both regions; after a few visits the first frame after each
    # step lands within 15 % (the quantizer is an integer: the grid alone gives ~10 %).
    assert max(first_frame_errors[4:]) < math.log2(1.15)
    assert first_frame_errors[0] > math.log2(1.3)  # starting from the prior slope


def test_curve_stays_falling_and_inversion_monotone_under_noise() -> None:
    rng = np.random.default_rng(1)
    model = QuantizerSizeModel(steps_per_halving=9.0, smoothing=0.5)
    for _ in range(300):
        q = int(rng.integers(0, QUANTIZER_LEVELS))
        model.observe(q, round(_bent_sizes(q) * rng.lognormal(0, 0.5)))
    curve = model.log2_bytes
    assert curve is not None
    assert all(b < a for a, b in itertools.pairwise(curve))
    chosen = [model.quantizer_for(t) for t in range(200, 40_000, 200)]
    assert None not in chosen
    assert all(b <= a for a, b in itertools.pairwise(chosen))  # type: ignore[operator]


def test_an_observation_moves_near_quantizers_more_than_far_ones() -> None:
    model = QuantizerSizeModel(steps_per_halving=9.0, smoothing=0.5, refine=0.0, coarsen=0.0)
    model.observe(30, 2000)
    before = list(model.log2_bytes or [])
    model.observe(30, 4000)  # one halving more than expected
    after = model.log2_bytes or []
    moved = [a - b for a, b in zip(after, before, strict=True)]
    assert moved[30] == pytest.approx(0.5)
    assert moved[30] > moved[36] > moved[50] > 0
    assert moved[30] > moved[24] > moved[10] > 0


def test_bad_model_and_budget_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="steps_per_halving"):
        QuantizerSizeModel(steps_per_halving=0, smoothing=0.5)
    with pytest.raises(ValueError, match="smoothing"):
        QuantizerSizeModel(steps_per_halving=9, smoothing=1.5)
    with pytest.raises(ValueError, match="reference"):
        QuantizerSizeModel(steps_per_halving=9, smoothing=0.5, refine=-1)
    with pytest.raises(ValueError, match="repay_frames"):
        FrameBudget(repay_frames=0.5, max_debt_s=1.0)


def test_frame_budget_pays_back_overshoot() -> None:
    budget = FrameBudget(repay_frames=4, max_debt_s=1.0)
    first = budget.next_target_bytes(240_000, 1 / 30)  # 1000 bytes a frame
    assert first == 1000
    budget.on_encoded(3000, 240_000)  # 2000 over
    assert budget.next_target_bytes(240_000, 1 / 30) == 500
    budget.on_encoded(500, 240_000)
    # 1500 still owed; a skipped frame leaves its budget to the next: 2000 - 1500 / 4
    assert budget.next_target_bytes(240_000, 2 / 30) == 1625


def test_frame_budget_forgets_unused_bytes_but_not_debt_on_a_rate_change() -> None:
    budget = FrameBudget(repay_frames=4, max_debt_s=1.0)
    budget.next_target_bytes(240_000, 1 / 30)
    budget.on_encoded(200, 240_000)  # 800 under
    assert budget.next_target_bytes(240_000, 1 / 30) == 1200
    budget.on_encoded(1200, 240_000)
    budget.on_rate_change()
    assert budget.next_target_bytes(480_000, 1 / 30) == 2000  # the 800 are not spent now
    budget.on_encoded(4000, 480_000)  # 2000 over
    budget.on_rate_change()
    assert budget.next_target_bytes(240_000, 1 / 30) == 500  # still owed at the new rate


def _stepped_sizes(q: int) -> float:
    """The test pattern at 640x480: 7.7 KB at quantizer 5, and twice that just below it."""
    return 17_000.0 * 2 ** (-q / 20) if q <= 4 else 7_700.0 * 2 ** (-(q - 5) / 20)


def test_a_quantizer_that_just_overshot_is_passed_over() -> None:
    # The smooth curve cannot hold a step: frames at 5 pull 4's prediction back down, and a
    # target between the two sizes got 4 again every 3-5 frames, each twice its target.
    model = QuantizerSizeModel(steps_per_halving=16.0, smoothing=0.5)
    model.observe(quantizer=20, size_bytes=round(_stepped_sizes(20)))
    target = 9_500
    sizes = []
    for _ in range(60):
        q = model.quantizer_for(target)
        assert q is not None
        sizes.append(_stepped_sizes(q))
        model.observe(q, round(sizes[-1]))
    overshoots = sum(size > 1.5 * target for size in sizes[5:])
    assert overshoots <= 6  # one per VETO_FRAMES (10) frames at most
