"""Controller parameters by dotted path into their frozen config dataclasses.

`default_config("ours")` is the config `make_controller("ours")` builds (an `OursConfig`);
`with_value(config, "coupler.target_delay_ms", 5.0)` replaces one field along the path
(`dataclasses.replace` at every level, so the result is a new frozen config), and
`build_controller(name, config)` makes the controller from it. A path that names no field is a
ValueError that lists the valid ones.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ratecontrol.aiortc_model import AiortcController
from ratecontrol.controllers import make_controller, parse_bps
from ratecontrol.fixed import FixedRateController
from ratecontrol.gcc import GccConfig, GccController
from ratecontrol.ours import OursConfig, OursController
from ratecontrol.types import RateBounds, RateController


def default_config(controller: str) -> Any:
    """The frozen config dataclass behind a controller name (ValueError for an unknown one)."""
    make_controller(controller)  # the one place that knows and checks the names
    key = controller.strip()
    if key == "ours":
        return OursConfig()
    if key == "gcc":
        return GccConfig()
    return RateBounds()  # aiortc and fixed:BPS take only the rate bounds


def build_controller(controller: str, config: Any) -> RateController:
    key = controller.strip()
    if key == "ours":
        return OursController(config)
    if key == "gcc":
        return GccController(config)
    if key == "aiortc":
        return AiortcController(config)
    return FixedRateController(parse_bps(key[len("fixed:"):]), config)


def paths(config: Any, prefix: str = "") -> list[str]:
    """Every settable dotted path of a config, leaves only."""
    out = []
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            out += paths(value, f"{prefix}{f.name}.")
        else:
            out.append(prefix + f.name)
    return out


def with_value(config: Any, path: str, value: Any) -> Any:
    """`config` with the field at `path` replaced by `value` (a string is cast to its type)."""
    valid = paths(config)
    if path not in valid:
        raise ValueError(f"no parameter {path!r} in {type(config).__name__}; valid: "
                         + ", ".join(valid))
    return _replace(config, path.split("."), value, path)


def _replace(config: Any, names: list[str], value: Any, path: str) -> Any:
    current = getattr(config, names[0])
    if len(names) > 1:
        return dataclasses.replace(config, **{names[0]: _replace(current, names[1:], value, path)})
    return dataclasses.replace(config, **{names[0]: _cast(current, value, path)})


def _cast(current: Any, value: Any, path: str) -> Any:
    if not isinstance(value, str):
        return value
    try:
        if isinstance(current, bool):
            if value.lower() not in ("true", "false", "1", "0"):
                raise ValueError
            return value.lower() in ("true", "1")
        if isinstance(current, int):
            return int(value)
        if isinstance(current, float):
            return float(value)
    except ValueError:
        raise ValueError(f"{path}={value!r}: give a {type(current).__name__}") from None
    return value
