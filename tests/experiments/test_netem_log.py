from pathlib import Path

import pytest

from experiments.netem_log import MediaLink, media_link, offered_kbps, trace_zero_wall_s


def test_link_start_is_the_one_before_the_call_connected() -> None:
    origin = 1000.0
    net = [{"event": "origin", "wall_s": origin},
           {"event": "link", "direction": "up", "start_ms": 7651.0},
           {"event": "link", "direction": "down", "start_ms": 100.0},
           {"event": "link", "direction": "up", "start_ms": 17869.0}]
    assert trace_zero_wall_s(net, origin + 7.9) == origin + 7.651
    assert trace_zero_wall_s(net, origin + 20.0) == origin + 17.869
    assert trace_zero_wall_s(net, origin + 1.0) == origin + 7.651
    assert trace_zero_wall_s(net) == origin + 7.651
    assert trace_zero_wall_s(net[1:]) is None  # no origin: no common clock
    assert trace_zero_wall_s(net[:1] + net[2:3], origin + 1.0) is None  # no media link


def test_offered_rate_skips_the_links_duplicates(tmp_path: Path) -> None:
    log = tmp_path / "netem.jsonl"
    log.write_text(
        '{"event":"origin","wall_s":5}\n'
        '{"direction":"up","size":1000,"enqueued_ms":10,"delivered_ms":20,"sent_ms":20}\n'
        '{"direction":"up","size":1000,"enqueued_ms":10,"delivered_ms":20,"sent_ms":20,'
        '"duplicate":true}\n'
        '{"direction":"down","size":500,"enqueued_ms":30,"delivered_ms":40,"sent_ms":40}\n'
        '{"direction":"up","size":1000,"enqueued_ms":500,"dropped_ms":500,"reason":"loss"}\n'
        '{"direction":"up","size":1000,"enq')  # a cut-off last line
    assert offered_kbps(log, 0.0, 1000.0) == 2000 * 8 / 1000


def _log(media_direction: str, media_trace: str, other_trace: str) -> list[dict]:
    """A call's netem log: link start at 1 s, 10 media packets a second over 2..12 s in
    `media_direction`, one feedback packet a second the other way."""
    other = "down" if media_direction == "up" else "up"
    traces = {media_direction: media_trace, other: other_trace}
    log: list[dict] = [{"event": "origin", "wall_s": 100.0}]
    log += [{"event": "link", "direction": d, "start_ms": 1000.0, "trace": traces[d],
             "trace_file": None} for d in ("up", "down")]
    for i in range(100):
        t = 2000.0 + i * 100.0
        log.append({"direction": media_direction, "size": 1200, "enqueued_ms": t,
                    "delivered_ms": t + 20, "sent_ms": t + 20})
        if i % 10 == 0:
            log.append({"direction": other, "size": 80, "enqueued_ms": t,
                        "delivered_ms": t + 20, "sent_ms": t + 20})
    return log


def test_media_link_is_the_direction_that_carried_the_media() -> None:
    # const-1mbps and const-2mbps: a wrong mapping shows as the other file and capacity
    for direction, media, other, kbps in [("up", "const-1mbps", "const-2mbps", 996.0),
                                          ("down", "const-2mbps", "const-1mbps", 1992.0)]:
        link = media_link(_log(direction, media, other), 102.0, 112.0)
        assert link is not None
        assert (link.direction, link.trace) == (direction, media)
        assert link.capacity_kbps == pytest.approx(kbps, rel=0.01)
        assert link.summary_fields() == {"media_trace": media,
                                         "media_capacity_kbps": round(link.capacity_kbps, 1)}


def test_media_capacity_is_over_the_calls_window_on_the_links_trace_clock() -> None:
    # outage-10s: 2 Mbit/s with nothing over trace time [30 s, 40 s); trace time 0 at wall 101 s
    log = _log("up", "outage-10s", "const-1mbps")
    log += [{"direction": "up", "size": 1200, "enqueued_ms": t, "delivered_ms": t + 20,
             "sent_ms": t + 20} for t in (31_000.0, 45_000.0)]
    link = media_link(log, 121.0, 141.0)  # trace time 20..40 s: half of it in the outage
    assert link is not None and link.trace == "outage-10s"
    assert link.capacity_kbps == pytest.approx(1000.0, rel=0.01)


def test_media_link_reads_a_trace_file_and_says_when_it_cannot(tmp_path: Path) -> None:
    trace = tmp_path / "road.down"
    trace.write_text("6\n")  # 2 Mbit/s
    log = _log("up", "road.down", "road.up")
    log[1]["trace_file"] = str(trace)
    link = media_link(log, 102.0, 112.0)
    assert link is not None and link.capacity_kbps == pytest.approx(2000.0, rel=0.01)
    log[1]["trace_file"] = str(tmp_path / "gone.down")  # moved away and not a shared name
    assert media_link(log, 102.0, 112.0) == MediaLink("up", "road.down", None)
    old = [{k: v for k, v in r.items() if k not in ("trace", "trace_file")} for r in log]
    assert media_link(old, 102.0, 112.0) == MediaLink("up", None, None)  # logged before names
    assert media_link(log, 200.0, 210.0) is None  # no packet in the window
    assert media_link(log[1:], 102.0, 112.0) is None  # no clock
