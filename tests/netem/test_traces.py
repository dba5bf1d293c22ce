from pathlib import Path

import numpy as np
import pytest

from netem.trace import TraceError, trace_stats
from netem.traces import (
    TRACES_DIR_ENV,
    available_traces,
    builtin_names,
    media_and_feedback,
    resolve_trace,
    resolve_trace_pair,
    trace_directions,
    traces_dir,
)


@pytest.fixture
def shared(tmp_path, monkeypatch):
    folder = tmp_path / "traces"
    folder.mkdir()
    (folder / "road.up").write_text("10\n20\n")
    (folder / "road.down").write_text("5\n10\n")
    (folder / "only.down").write_text("3\n")
    (folder / "flat.trace").write_text("1\n")
    (folder / "README.md").write_text("not a trace\n")
    monkeypatch.setenv(TRACES_DIR_ENV, str(folder))
    return folder


def test_default_folder_is_next_to_the_repo(monkeypatch):
    monkeypatch.delenv(TRACES_DIR_ENV, raising=False)
    assert traces_dir() == Path(__file__).resolve().parents[3] / "shared" / "traces"


def test_builtins_resolve():
    for name in builtin_names():
        assert resolve_trace(name).period_ms > 0
    assert resolve_trace("const-1mbps").mean_bps == pytest.approx(1e6)
    assert resolve_trace("const-500kbps").mean_bps == pytest.approx(5e5)
    assert resolve_trace("CONST-2.5Mbps").mean_bps == pytest.approx(2.5e6, rel=1e-3)
    assert resolve_trace("rfc8867-steps").period_ms == 100_000
    outage = resolve_trace("outage-10s")
    assert outage.count_between(30_001, 40_000) == 0
    assert outage.capacity_bps(40_000, 120_000) == pytest.approx(2e6, rel=0.01)


def test_cellular_demo_trace():
    trace = resolve_trace("cellular")
    stats = trace_stats(trace)
    assert stats.duration_s >= 60
    assert stats.p5_mbps >= 1.0 and stats.p95_mbps <= 6.5
    assert 2.0 <= stats.mean_mbps <= 4.0
    assert stats.longest_gap_ms > 500  # at least one dip to nothing
    assert resolve_trace("cellular") is trace  # cached, and the same on every call


def test_shared_names_with_or_without_extension(shared):
    assert resolve_trace("flat").mean_bps == pytest.approx(12e6)
    assert resolve_trace("flat.trace").name == "flat.trace"
    assert resolve_trace("road").name == "road.down"
    assert resolve_trace("road.up").opportunities_ms.tolist() == [10, 20]


def test_paths_always_work(shared, tmp_path):
    own = tmp_path / "mine.txt"
    own.write_text("4\n8\n")
    assert resolve_trace(own).period_ms == 8
    assert resolve_trace(str(own)).period_ms == 8


def test_pairs(shared):
    up, down = resolve_trace_pair("road")
    assert (up.name, down.name) == ("road.up", "road.down")
    up, down = resolve_trace_pair(str(shared / "road"))
    assert (up.name, down.name) == ("road.up", "road.down")
    up, down = resolve_trace_pair("only")
    assert up is down and up.name == "only.down"
    up, down = resolve_trace_pair("const-1mbps")
    assert up is down


def test_one_rule_for_the_file_that_carries_media(shared):
    assert media_and_feedback("road") == ("road.down", "road.up")
    assert media_and_feedback("road.down") == ("road.down", "road.up")
    assert media_and_feedback("road.up") == ("road.up", "road.down")  # the name picks media
    assert media_and_feedback("only.down") == ("only.down", "only.down")  # no pair: both ways
    assert media_and_feedback("only") == ("only", "only")
    assert media_and_feedback("flat.trace") == ("flat.trace", "flat.trace")
    assert media_and_feedback("const-1mbps") == ("const-1mbps", "const-1mbps")
    base = str(shared / "road")
    assert media_and_feedback(base) == (base + ".down", base + ".up")
    assert media_and_feedback(base + ".up") == (base + ".up", base + ".down")


def test_trace_directions_loads_what_the_rule_names(shared):
    for name, files in [("road", ("road.down", "road.up")), ("road.down", ("road.down", "road.up")),
                        ("road.up", ("road.up", "road.down"))]:
        media, feedback = trace_directions(name)
        assert (media.name, feedback.name) == files
    media, feedback = trace_directions("only.down")
    assert media is feedback and media.name == "only.down"
    with pytest.raises(TraceError, match="no such trace file"):
        trace_directions("road.sideways")


def test_unknown_names_list_what_exists(shared):
    with pytest.raises(TraceError) as info:
        resolve_trace("nothing-like-this")
    message = str(info.value)
    assert "\n" not in message
    for name in ("cellular", "const-1mbps", "rfc8867-steps", "outage-35s", "road", "flat.trace"):
        assert name in message
    assert "README.md" not in message
    with pytest.raises(TraceError, match="no such trace file"):
        resolve_trace("/no/such/dir/file.trace")
    with pytest.raises(TraceError, match="must be positive"):
        resolve_trace("const-0kbps")
    with pytest.raises(TraceError, match="outage length"):
        resolve_trace("outage-200s")


def test_available_traces(shared):
    names = available_traces()
    assert names[: len(builtin_names())] == builtin_names()
    assert {"road", "road.up", "road.down", "only.down", "flat.trace"} <= set(names)
    assert "only" not in names  # not a pair


def test_missing_shared_folder_still_has_builtins(tmp_path, monkeypatch):
    monkeypatch.setenv(TRACES_DIR_ENV, str(tmp_path / "absent"))
    assert available_traces() == builtin_names()
    assert np.all(np.diff(resolve_trace("const-5mbps").opportunities_ms) >= 0)
