"""Synthetic traces in Mahimahi form: constant rates, steps, outages and a cellular model.

Deterministic: the random one takes a seed for a ``numpy.random.Generator``.

Piecewise-constant rates are turned into opportunities by counting bits: the k-th opportunity
is at the first whole millisecond by which k × 12,000 bits have been offered, so a constant
1 Mbit/s gives one opportunity every 12 ms and 24 Mbit/s two per millisecond. A Mahimahi file
repeats at its last timestamp, so every generated trace ends with an opportunity at exactly
its duration (added if the bit count leaves the last one short: at most one extra packet per
period) and its last step must have a positive rate.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from netem.trace import BITS_PER_OPPORTUNITY, MS_PER_S, Trace, TraceError

# RFC 8867 §5.1 "Variable Available Capacity with a Single Flow": reference capacity 1 Mbit/s,
# 100 s, capacity ratio 1.0 from 0 s, 2.5 from 40 s, 0.6 from 60 s, 1.0 from 80 s.
RFC8867_STEPS: tuple[tuple[float, float], ...] = (
    (40.0, 1_000_000.0),
    (20.0, 2_500_000.0),
    (20.0, 600_000.0),
    (20.0, 1_000_000.0),
)


def _duration_ms(duration_s: float, what: str) -> int:
    duration_ms = round(duration_s * MS_PER_S)
    if duration_ms < 1:
        raise TraceError(f"{what}: duration {duration_s} s is under 1 ms; give a positive length")
    return duration_ms


def steps(segments: Sequence[tuple[float, float]], name: str = "steps") -> Trace:
    """Rate ``rate_bps`` for ``duration_s``, segment after segment. A rate may be 0 (outage)."""
    if not segments:
        raise TraceError(f"{name}: no segments; give [(duration_s, rate_bps), ...]")
    ends_ms: list[int] = []
    rates_per_ms: list[float] = []
    total_ms = 0
    for duration_s, rate_bps in segments:
        if rate_bps < 0:
            raise TraceError(f"{name}: rate {rate_bps} bit/s is negative; rates must be >= 0")
        total_ms += _duration_ms(duration_s, name)
        ends_ms.append(total_ms)
        rates_per_ms.append(rate_bps / MS_PER_S / BITS_PER_OPPORTUNITY)
    if rates_per_ms[-1] <= 0:
        raise TraceError(
            f"{name}: the last segment has rate 0, but a Mahimahi trace ends at its last "
            "opportunity; end with a positive rate"
        )
    ends = np.array(ends_ms, dtype=np.float64)
    starts = np.concatenate(([0.0], ends[:-1]))
    rates = np.array(rates_per_ms)
    credit_end = np.cumsum(rates * (ends - starts))  # opportunities offered by each segment end
    credit_start = credit_end - rates * (ends - starts)
    count = int(np.floor(credit_end[-1] + 1e-9))
    k = np.arange(1, count + 1, dtype=np.float64)
    live = rates > 0
    seg = np.flatnonzero(live)[
        np.searchsorted(credit_end[live], k - 1e-9, side="left").clip(0, int(live.sum()) - 1)
    ]
    t = starts[seg] + (k - credit_start[seg]) / rates[seg]
    times = np.ceil(t - 1e-6).astype(np.int64).clip(1, total_ms)
    if times.size == 0 or times[-1] != total_ms:
        times = np.append(times, np.int64(total_ms))
    return Trace(name=name, opportunities_ms=times, period_ms=total_ms)


def constant(rate_bps: float, duration_s: float = 60.0, name: str | None = None) -> Trace:
    """A constant ``rate_bps``, opportunities spread evenly (1 Mbit/s: one every 12 ms)."""
    if rate_bps <= 0:
        raise TraceError(f"constant: rate {rate_bps} bit/s must be positive")
    return steps([(duration_s, rate_bps)], name=name or f"const-{rate_bps:g}bps")


def rfc8867_steps(name: str = "rfc8867-steps") -> Trace:
    """RFC 8867 §5.1: 1 Mbit/s 40 s, 2.5 Mbit/s 20 s, 0.6 Mbit/s 20 s, 1 Mbit/s 20 s (100 s)."""
    return steps(RFC8867_STEPS, name=name)


def on_off(
    rate_bps: float, on_s: float, off_s: float, cycles: int = 1, name: str = "on-off"
) -> Trace:
    """``cycles`` times (on_s at ``rate_bps``, then off_s with no capacity), then on_s again.

    The final on-period closes the file (a Mahimahi trace must end with an opportunity); when
    the trace repeats it runs straight into the first on-period.
    """
    if cycles < 1:
        raise TraceError(f"{name}: cycles={cycles}; give at least 1")
    segments = [(on_s, rate_bps), (off_s, 0.0)] * cycles + [(on_s, rate_bps)]
    return steps(segments, name=name)


def outage(
    rate_bps: float, duration_s: float, outage_at_s: float, outage_s: float, name: str = "outage"
) -> Trace:
    """``rate_bps`` for ``duration_s`` except no capacity during [outage_at_s, +outage_s)."""
    if outage_at_s < 0 or outage_s <= 0 or outage_at_s + outage_s >= duration_s:
        raise TraceError(
            f"{name}: an outage of {outage_s} s at {outage_at_s} s does not fit inside "
            f"{duration_s} s; it must start >= 0 and end before the trace does"
        )
    segments = [
        (outage_at_s, rate_bps),
        (outage_s, 0.0),
        (duration_s - outage_at_s - outage_s, rate_bps),
    ]
    return steps([s for s in segments if s[0] > 0], name=name)


def cellular(
    seed: int,
    duration_s: float = 120.0,
    mean_bps: float = 3_000_000.0,
    volatility: float = 0.35,
    reversion_per_s: float = 0.2,
    step_ms: int = 100,
    min_bps: float = 200_000.0,
    max_bps: float = 12_000_000.0,
    outages_per_min: float = 1.0,
    outage_mean_s: float = 1.0,
    name: str | None = None,
) -> Trace:
    """A synthetic cellular trace.

    * log-capacity is a mean-reverting random walk (Ornstein–Uhlenbeck) updated every
      ``step_ms``: x += reversion_per_s·(0 − x)·dt + volatility·√dt·N(0,1), stationary spread
      volatility/√(2·reversion_per_s) (0.55 by default: mostly 0.5×–1.7× the mean);
    * rate = exp(x), scaled so the time-average over the whole trace, outages included, is
      ``mean_bps``, then clipped to [min_bps, max_bps] (so the mean is approximate);
    * outages start as a Poisson process (``outages_per_min``) and last an exponential time
      (mean ``outage_mean_s``); the rate is 0 inside them;
    * each millisecond holds a Poisson number of opportunities with mean rate/12,000 bit/ms.
    """
    if duration_s <= 0 or mean_bps <= 0 or min_bps < 0 or max_bps <= min_bps or step_ms < 1:
        raise TraceError(
            "cellular: need duration_s > 0, mean_bps > 0 and 0 <= min_bps < max_bps, step_ms >= 1"
        )
    rng = np.random.default_rng(seed)
    total_ms = _duration_ms(duration_s, "cellular")
    n_steps = -(-total_ms // step_ms)
    dt_s = step_ms / MS_PER_S
    shocks = rng.standard_normal(n_steps) * volatility * np.sqrt(dt_s)
    x = np.empty(n_steps)
    level = rng.standard_normal() * volatility / np.sqrt(2 * reversion_per_s)
    keep = 1.0 - reversion_per_s * dt_s
    for i in range(n_steps):
        x[i] = level
        level = level * keep + shocks[i]
    rate_bps = np.repeat(np.exp(x), step_ms)[:total_ms]
    up = np.ones(total_ms, dtype=bool)
    n_outages = rng.poisson(outages_per_min * total_ms / 60_000.0)
    for start in rng.uniform(0, total_ms, n_outages):
        length = rng.exponential(outage_mean_s * MS_PER_S)
        up[int(start) : int(start + length) + 1] = False
    up[-1] = True  # the file must end with an opportunity
    rate_bps *= mean_bps / max(float(np.mean(rate_bps * up)), 1e-9)
    rate_bps = np.clip(rate_bps, min_bps, max_bps) * up
    counts = rng.poisson(rate_bps / MS_PER_S / BITS_PER_OPPORTUNITY)
    counts[-1] = max(int(counts[-1]), 1)
    times = np.repeat(np.arange(1, total_ms + 1, dtype=np.int64), counts)
    return Trace(name=name or f"cellular-seed{seed}", opportunities_ms=times, period_ms=total_ms)
