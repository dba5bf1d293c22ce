"""Real calls through netem (issue: the peer's media pipeline). Each takes about 30 s."""

import asyncio
import time
from pathlib import Path

import pytest
from aioice import turn

from experiments.jsonl import read_jsonl
from experiments.link_spec import LinkSpec
from experiments.netem_log import media_link, offered_kbps, records
from experiments.run import RECEIVER_USER, SENDER_USER, CallSpec, run_call, start_netem

CAPACITY_KBPS = 994.8  # const-1mbps: one 1500-byte opportunity every 12 ms, on IP sizes
LINK = LinkSpec("const-1mbps", delay_ms=40.0)


def settled_sending_kbps(folder: Path, last_s: float = 10.0) -> float:
    sent = [r["enqueued_ms"] for r in records(folder / "netem.jsonl")
            if r.get("direction") == "up" and "enqueued_ms" in r]
    end = max(sent)
    return offered_kbps(folder / "netem.jsonl", end - last_s * 1000, end)


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    folder = tmp_path_factory.mktemp("ours")
    return run_call(CallSpec("ours", LINK, 20.0, "ours"), folder), folder


def test_ours_settles_near_capacity_with_one_keyframe(ours: tuple[dict, Path]) -> None:
    result, folder = ours
    assert result["status"] == "ok", result["reason"]
    summary = result["summary"]
    assert 0.7 <= settled_sending_kbps(folder) / CAPACITY_KBPS <= 1.0
    assert summary["keyframes"] <= 2  # the first, and at most one more
    assert summary["delay_ms_p95"] <= 250
    assert summary["capacity_kbps"] == pytest.approx(CAPACITY_KBPS, rel=0.02)
    assert 40 < summary["oracle_delay_ms_p95"] < summary["delay_ms_p95"]


def test_stock_aiortc_shows_its_extra_keyframes(ours: tuple[dict, Path],
                                                tmp_path: Path) -> None:
    result = run_call(CallSpec("aiortc", LINK, 20.0, "aiortc"), tmp_path)
    assert result["status"] == "ok", result["reason"]
    assert result["summary"]["keyframes"] >= ours[0]["summary"]["keyframes"] + 3


def test_a_missing_trace_fails_cleanly(tmp_path: Path) -> None:
    from netem.trace import TraceError

    with pytest.raises(TraceError, match=r"unknown trace .* one of: cellular"):
        run_call(CallSpec("ours", LinkSpec("no-such-trace"), 5.0, "ours"), tmp_path)


def test_reordering_and_duplication_cause_no_decoder_error(tmp_path: Path) -> None:
    link = LinkSpec("const-2mbps", delay_ms=20.0, reorder=0.05, duplicate=0.05)
    result = run_call(CallSpec("ours", link, 12.0, "ours"), tmp_path)
    assert result["status"] == "ok", result["reason"]
    summary = result["summary"]
    assert summary["decode_errors"] == 0
    assert summary["frames_shown"] > 200
    assert summary["keyframes"] <= 2


def test_start_netem_puts_burst_loss_on_the_media_direction(tmp_path: Path) -> None:
    link = LinkSpec("const-1mbps", burst_loss=((10.0, 20), (12.5, 3)))
    netem = start_netem(link, tmp_path)  # started: netem accepted the flags
    try:
        command = list(netem.process.args)  # type: ignore[arg-type]
    finally:
        assert netem.stop() == 0
    flags = [command[i + 1] for i, arg in enumerate(command) if arg == "--burst-loss"]
    assert flags == ["up:10.0:20", "up:12.5:3"]
    assert command[command.index("--up-user") + 1] == SENDER_USER.split(":")[0]


class _Inbox(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.count = 0

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:  # type: ignore[override]
        self.count += 1


def test_what_the_sender_sends_crosses_the_media_trace_though_it_allocates_last(
        tmp_path: Path) -> None:
    """As in a `chrome` call: the receiver allocates first, the sender after it."""
    (tmp_path / "road.down").write_text("6\n")  # 2 Mbit/s: the media file of the pair
    (tmp_path / "road.up").write_text("12\n")  # 1 Mbit/s
    netem = start_netem(LinkSpec(str(tmp_path / "road"), delay_ms=5.0), tmp_path)

    async def call() -> tuple[float, float]:
        host, port = netem.address.rsplit(":", 1)
        server = (host, int(port))
        receiver, inbox = await turn.create_turn_endpoint(
            _Inbox, server, *RECEIVER_USER.split(":"))
        sender, _ = await turn.create_turn_endpoint(_Inbox, server, *SENDER_USER.split(":"))
        start = time.time()
        receiver.sendto(b"feedback", sender.get_extra_info("sockname"))
        await asyncio.sleep(0.1)
        for _ in range(30):
            sender.sendto(b"m" * 1000, receiver.get_extra_info("sockname"))
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)
        assert inbox.count == 30
        for transport in (sender, receiver):
            transport.close()
        return start, time.time()

    try:
        start, end = asyncio.run(call())
    finally:
        assert netem.stop() == 0
    link = media_link(read_jsonl(tmp_path / "netem.jsonl"), start, end)
    assert link is not None and (link.direction, link.trace) == ("up", "road.down")
    assert link.capacity_kbps == pytest.approx(2000.0, rel=0.05)
