import math
import random

import pytest

from netem.loss import BernoulliLoss, BurstSchedule, GilbertElliottLoss, LossBurst, NoLoss

N = 200_000


def _draws(model, n=N, seed=1):
    process = model.start(random.Random(seed))
    return [process.is_lost() for _ in range(n)]


def _bursts(lost):
    lengths, run = [], 0
    for x in lost:
        if x:
            run += 1
        elif run:
            lengths.append(run)
            run = 0
    if run:
        lengths.append(run)
    return lengths


def test_no_loss_and_extremes():
    assert not any(_draws(NoLoss(), 1000))
    assert not any(_draws(BernoulliLoss(0.0), 1000))
    assert all(_draws(BernoulliLoss(1.0), 1000))


def test_bernoulli_rate_within_statistical_bounds():
    p = 0.1
    rate = sum(_draws(BernoulliLoss(p))) / N
    sigma = math.sqrt(p * (1 - p) / N)
    assert abs(rate - p) < 5 * sigma
    # independent losses: mean burst 1 / (1 - p)
    bursts = _bursts(_draws(BernoulliLoss(p)))
    assert sum(bursts) / len(bursts) == pytest.approx(1 / (1 - p), rel=0.03)


def test_same_seed_same_losses():
    model = GilbertElliottLoss.from_rate_and_burst(0.05, 3)
    assert _draws(model, 5000, seed=9) == _draws(model, 5000, seed=9)
    assert _draws(model, 5000, seed=9) != _draws(model, 5000, seed=10)


def test_gilbert_elliott_rate_and_burst_length():
    model = GilbertElliottLoss.from_rate_and_burst(0.05, 4.0)
    assert model.p_bad_to_good == pytest.approx(0.25)
    assert model.mean_loss_rate == pytest.approx(0.05)
    lost = _draws(model)
    bursts = _bursts(lost)
    assert sum(lost) / N == pytest.approx(0.05, rel=0.1)
    assert sum(bursts) / len(bursts) == pytest.approx(4.0, rel=0.07)
    # far burstier than independent loss at the same rate
    independent = _bursts(_draws(BernoulliLoss(0.05)))
    assert sum(independent) / len(independent) < 1.1


def test_gilbert_elliott_with_partial_loss_in_states():
    model = GilbertElliottLoss(0.01, 0.1, loss_good=0.01, loss_bad=0.5)
    expected = (0.01 / 0.11) * 0.5 + (0.1 / 0.11) * 0.01
    assert model.mean_loss_rate == pytest.approx(expected)
    assert sum(_draws(model)) / N == pytest.approx(expected, rel=0.12)


@pytest.mark.parametrize(
    "make",
    [
        lambda: BernoulliLoss(1.5),
        lambda: BernoulliLoss(-0.1),
        lambda: GilbertElliottLoss(0.1, 2.0),
        lambda: GilbertElliottLoss.from_rate_and_burst(0.5, 0.5),
        lambda: GilbertElliottLoss.from_rate_and_burst(1.0, 2),
        lambda: GilbertElliottLoss.from_rate_and_burst(0.9, 1.0),
    ],
)
def test_bad_parameters_are_refused(make):
    with pytest.raises(ValueError) as info:
        make()
    assert "\n" not in str(info.value)


def test_a_burst_takes_count_packets_from_the_first_at_or_after_its_time():
    schedule = BurstSchedule([LossBurst(at_ms=100.0, count=3)])
    times = [90.0, 99.9, 100.0, 100.0, 130.0, 131.0, 500.0]
    assert [schedule.is_lost(t) for t in times] == [False, False, True, True, True, False, False]
    # a packet late after the burst time starts it: the burst waits for traffic
    schedule = BurstSchedule([LossBurst(at_ms=100.0, count=2)])
    assert [schedule.is_lost(t) for t in (50.0, 400.0, 401.0, 402.0)] == [
        False, True, True, False,
    ]


def test_bursts_in_any_order_and_overlapping_take_the_union():
    schedule = BurstSchedule([LossBurst(30.0, 2), LossBurst(10.0, 3), LossBurst(11.0, 2)])
    # 10 ms takes packets at 10, 11, 12; the one at 11 ms would end at 12 too; 30 ms: 30, 31
    got = [schedule.is_lost(float(t)) for t in range(9, 34)]
    assert [t for t, lost in zip(range(9, 34), got, strict=True) if lost] == [10, 11, 12, 30, 31]


@pytest.mark.parametrize("at_ms, count", [(-1.0, 5), (math.inf, 5), (math.nan, 5), (0.0, 0),
                                          (0.0, -2), (0.0, 2.5), (0.0, True)])
def test_bad_bursts_are_refused_in_one_line(at_ms, count):
    with pytest.raises(ValueError) as info:
        LossBurst(at_ms, count)
    assert "\n" not in str(info.value)
