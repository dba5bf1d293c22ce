"""Controllers by name: `make_controller("ours" | "gcc" | "aiortc" | "fixed:BPS", config)`.

`fixed:BPS` takes a plain number of bits per second or one with a k/M suffix (decimal:
`fixed:500000`, `fixed:500k`, `fixed:1.5M`). `config` carries the rate bounds every controller
keeps to (`RateBounds`: min 50 kbit/s, max 10 Mbit/s, start 300 kbit/s by default); a fixed
rate outside them is clamped. An unknown name is a ValueError whose one-line message lists the
known names.
"""

from __future__ import annotations

import math

from ratecontrol.aiortc_model import AiortcController
from ratecontrol.fixed import FixedRateController
from ratecontrol.gcc import GccConfig, GccController
from ratecontrol.ours import OursConfig, OursController
from ratecontrol.types import RateBounds, RateController

DEFAULT_CONTROLLER = "ours"
CONTROLLER_NAMES: tuple[str, ...] = ("ours", "gcc", "aiortc", "fixed:BPS")
_SUFFIXES = {"k": 1e3, "K": 1e3, "m": 1e6, "M": 1e6}


def parse_bps(text: str) -> float:
    """'500000', '500k', '1.5M' -> bits per second; ValueError with a hint otherwise."""
    raw = text.strip()
    scale = 1.0
    if raw and raw[-1] in _SUFFIXES:
        scale = _SUFFIXES[raw[-1]]
        raw = raw[:-1]
    try:
        value = float(raw) * scale
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise ValueError(
            f"bad rate {text!r} in fixed:BPS: give bits per second, e.g. fixed:500000, "
            "fixed:500k or fixed:1.5M"
        )
    return value


def make_controller(
    name: str = DEFAULT_CONTROLLER, config: RateBounds | None = None
) -> RateController:
    bounds = config or RateBounds()
    key = name.strip()
    if key == "ours":
        return OursController(OursConfig(bounds=bounds))
    if key == "gcc":
        return GccController(GccConfig(bounds=bounds))
    if key == "aiortc":
        return AiortcController(bounds)
    if key.startswith("fixed:"):
        return FixedRateController(parse_bps(key[len("fixed:"):]), bounds)
    raise ValueError(
        f"unknown controller {name!r}: choose one of {', '.join(CONTROLLER_NAMES)} "
        "(e.g. fixed:500k)"
    )
