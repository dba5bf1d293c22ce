"""Packet loss: random (none, Bernoulli, Gilbert–Elliott) and bursts at set trace times.

A :class:`LossModel` is frozen configuration; ``start(rng)`` gives a :class:`LossProcess` that
holds the state and draws one decision per packet from the ``random.Random`` it is given, so a
seeded link is reproducible. The link asks once per packet, in the order packets leave the
bottleneck queue.

A :class:`LossBurst` is deterministic: ``count`` packets in a row, from the first to leave the
queue at or after trace time ``at_ms``. A :class:`BurstSchedule` decides them, asked once per
departing packet with its trace time.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol


class LossProcess(Protocol):
    def is_lost(self) -> bool:
        """Decide the fate of the next packet: True means drop it."""
        ...


class LossModel(Protocol):
    def start(self, rng: random.Random) -> LossProcess:
        """A fresh process drawing from ``rng``."""
        ...


def _check_probability(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name}={value} is not a probability; give a value in [0, 1]")


class _Never:
    def is_lost(self) -> bool:
        return False


@dataclass(frozen=True, slots=True)
class NoLoss:
    """Every packet gets through."""

    def start(self, rng: random.Random) -> LossProcess:
        return _Never()


class _Bernoulli:
    __slots__ = ("_p", "_random")

    def __init__(self, p: float, rng: random.Random) -> None:
        self._p = p
        self._random = rng.random

    def is_lost(self) -> bool:
        return self._random() < self._p


@dataclass(frozen=True, slots=True)
class BernoulliLoss:
    """Each packet is lost independently with probability ``p``."""

    p: float

    def __post_init__(self) -> None:
        _check_probability("loss p", self.p)

    def start(self, rng: random.Random) -> LossProcess:
        return _Never() if self.p == 0.0 else _Bernoulli(self.p, rng)


class _GilbertElliott:
    __slots__ = ("_bad", "_model", "_random")

    def __init__(self, model: GilbertElliottLoss, rng: random.Random) -> None:
        self._model = model
        self._random = rng.random
        self._bad = False

    def is_lost(self) -> bool:
        m = self._model
        if self._bad:
            if self._random() < m.p_bad_to_good:
                self._bad = False
        elif self._random() < m.p_good_to_bad:
            self._bad = True
        loss = m.loss_bad if self._bad else m.loss_good
        return loss > 0.0 and self._random() < loss


@dataclass(frozen=True, slots=True)
class GilbertElliottLoss:
    """Two-state Markov loss, one step per packet.

    Before each packet the channel moves Good→Bad with ``p_good_to_bad`` or Bad→Good with
    ``p_bad_to_good``; the packet is then lost with ``loss_good`` or ``loss_bad``. The chain
    starts Good. With the defaults (Gilbert's model: lose all in Bad, none in Good) the mean
    loss rate is p/(p+r) and the mean burst length 1/r, for p = p_good_to_bad, r = p_bad_to_good.
    """

    p_good_to_bad: float
    p_bad_to_good: float
    loss_good: float = 0.0
    loss_bad: float = 1.0

    def __post_init__(self) -> None:
        _check_probability("p_good_to_bad", self.p_good_to_bad)
        _check_probability("p_bad_to_good", self.p_bad_to_good)
        _check_probability("loss_good", self.loss_good)
        _check_probability("loss_bad", self.loss_bad)

    @classmethod
    def from_rate_and_burst(cls, loss_rate: float, mean_burst_packets: float) -> GilbertElliottLoss:
        """Gilbert model with the given long-run loss rate and mean loss-burst length."""
        if not 0.0 <= loss_rate < 1.0:
            raise ValueError(f"loss_rate={loss_rate} must be in [0, 1)")
        if mean_burst_packets < 1.0:
            raise ValueError(
                f"mean_burst_packets={mean_burst_packets} is below 1; a burst is >= 1 packet"
            )
        r = 1.0 / mean_burst_packets
        p = r * loss_rate / (1.0 - loss_rate)
        if p > 1.0:
            raise ValueError(
                f"loss_rate={loss_rate} with bursts of {mean_burst_packets} packets needs "
                "p_good_to_bad > 1; use longer bursts or a lower rate"
            )
        return cls(p_good_to_bad=p, p_bad_to_good=r)

    @property
    def mean_loss_rate(self) -> float:
        p, r = self.p_good_to_bad, self.p_bad_to_good
        if p + r == 0.0:
            return self.loss_good
        share_bad = p / (p + r)
        return share_bad * self.loss_bad + (1.0 - share_bad) * self.loss_good

    def start(self, rng: random.Random) -> LossProcess:
        return _GilbertElliott(self, rng)


@dataclass(frozen=True, slots=True)
class LossBurst:
    """Lose ``count`` packets in a row, from the first to leave the queue at or after trace
    time ``at_ms`` (ms since the link's trace time 0)."""

    at_ms: float
    count: int

    def __post_init__(self) -> None:
        if not (math.isfinite(self.at_ms) and self.at_ms >= 0.0):
            raise ValueError(f"burst at_ms={self.at_ms}; give a trace time >= 0")
        if isinstance(self.count, bool) or not isinstance(self.count, int) or self.count < 1:
            raise ValueError(f"burst count={self.count!r}; give a whole number of packets >= 1")


class BurstSchedule:
    """Which departing packets the bursts take. Overlapping bursts take the union of their
    packets. One schedule can serve several links (the relay shares one per direction): then
    "in a row" counts the packets of all of them, in the order their departures are decided."""

    __slots__ = ("_bursts", "_left", "_next")

    def __init__(self, bursts: Iterable[LossBurst]) -> None:
        self._bursts = sorted(bursts, key=lambda b: b.at_ms)
        self._next = 0  # first burst not yet started
        self._left = 0  # packets the started bursts still take

    def is_lost(self, trace_ms: float) -> bool:
        """Decide the fate of a packet leaving the queue at ``trace_ms``: True means drop it."""
        bursts = self._bursts
        while self._next < len(bursts) and bursts[self._next].at_ms <= trace_ms:
            self._left = max(self._left, bursts[self._next].count)
            self._next += 1
        if self._left:
            self._left -= 1
            return True
        return False
