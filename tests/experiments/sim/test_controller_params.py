"""experiments.sim.controller_params: dotted paths into the controllers' frozen configs."""

from __future__ import annotations

import pytest

from experiments.sim.controller_params import build_controller, default_config, paths, with_value
from ratecontrol.ours import OursConfig


def test_a_nested_field_is_replaced_and_the_rest_kept() -> None:
    config = with_value(default_config("ours"), "coupler.target_delay_ms", "7.5")
    assert config.coupler.target_delay_ms == 7.5
    assert config.coupler.min_frame_bytes == OursConfig().coupler.min_frame_bytes
    assert OursConfig().coupler.target_delay_ms != 7.5  # the default is untouched
    controller = build_controller("ours", config)
    assert controller.coupler.config.target_delay_ms == 7.5  # type: ignore[attr-defined]


def test_an_unknown_path_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"no parameter 'coupler\.nope' in OursConfig; valid: "
                                         r"bounds\.min_bps, .*coupler\.target_delay_ms"):
        with_value(default_config("ours"), "coupler.nope", 1)
    with pytest.raises(ValueError, match="no parameter 'coupler'"):  # a config, not a value
        with_value(default_config("ours"), "coupler", 1)


def test_values_are_cast_to_the_field_type_or_refused() -> None:
    gcc = with_value(default_config("gcc"), "probe_at_start", "false")
    assert gcc.probe_at_start is False
    with pytest.raises(ValueError, match="pacing_factor='fast': give a float"):
        with_value(gcc, "pacing_factor", "fast")


def test_every_controller_has_a_config_and_builds_from_it() -> None:
    for name in ("ours", "gcc", "aiortc", "fixed:500k"):
        config = with_value(default_config(name), "bounds.max_bps" if name in ("ours", "gcc")
                            else "max_bps", "400000")
        assert "max_bps" in " ".join(paths(config))
        assert build_controller(name, config).target_bps() <= 400_000
    with pytest.raises(ValueError, match="unknown controller 'bbr'"):
        default_config("bbr")
