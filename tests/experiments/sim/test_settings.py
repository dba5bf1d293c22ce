"""SimSettings -> SimConfig: every setting lands, `full` is the media trace's length, and the
source brings its own frame rate and encoder model."""

from __future__ import annotations

import pytest

from experiments.sim.call import FPS, SimConfig
from experiments.sim.content import BIKES, TEST_PATTERN
from experiments.sim.settings import SimSettings, sim_config, timed_simulate
from netem import generate


def test_every_setting_lands_in_the_config() -> None:
    media, feedback = generate.constant(1e6, 60.0), generate.constant(5e5, 20.0)
    settings = SimSettings(controller="gcc", duration_s=12.0, delay_ms=20.0, loss=0.01,
                           queue_packets=80, seed=7, trace_offset_ms=1_500.0)
    config = sim_config(settings, media, feedback)
    assert config == SimConfig(media, feedback, "gcc", 12.0, 20.0, 0.01, 80, 7,
                               trace_offset_ms=1_500.0)
    assert config.content is TEST_PATTERN and config.fps == FPS


def test_defaults_are_simconfigs() -> None:
    trace = generate.constant(1e6, 60.0)
    assert sim_config(SimSettings(), trace, trace) == SimConfig(trace, trace)


def test_full_duration_is_the_media_traces_length_and_the_source_sets_fps() -> None:
    media, feedback = generate.constant(1e6, 45.0), generate.constant(1e6, 10.0)
    config = sim_config(SimSettings(duration_s=None, source="clip:bikes"), media, feedback)
    assert config.duration_s == pytest.approx(45.0)
    assert config.content is BIKES and config.fps == BIKES.fps
    assert config.encoder == BIKES.encoder


def test_a_source_without_a_profile_is_refused() -> None:
    trace = generate.constant(1e6, 60.0)
    with pytest.raises(ValueError, match="models"):
        sim_config(SimSettings(source="camera"), trace, trace)


def test_timed_simulate_returns_the_result_and_its_wall_time() -> None:
    from ratecontrol.controllers import make_controller

    trace = generate.constant(1e6, 60.0)
    config = sim_config(SimSettings(duration_s=2.0), trace, trace)
    result, wall_s = timed_simulate(config, make_controller("ours"))
    shown = result.summary.frames_shown
    assert result.config is config and shown is not None and shown > 30  # of 60 captured
    assert wall_s > 0
