from pathlib import Path

from experiments.netem_log import offered_kbps, trace_zero_wall_s


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
