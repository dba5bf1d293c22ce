"""The load generator, small: every message arrives once, in its room, and is timed."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.signaling.support import running_server
from tools.signaling_loadtest import main, percentile, run_load


def test_small_load_run_counts_every_message() -> None:
    async def scenario() -> dict[str, object]:
        async with running_server() as (server, url):
            result = await run_load([url.replace("http", "ws") + "/ws"], clients=40, rate=200,
                                    candidates=3)
            for member in result.pop("_members"):
                await member.ws.close()
            assert server.metrics.relayed["candidate"] == 20 * 2 * 3
            return result

    result = asyncio.run(scenario())
    assert result["messages_expected"] == 20 * 2 * 4
    assert result["messages_received"] == result["messages_expected"]
    assert result["lost"] == result["duplicated"] == result["misrouted"] == 0
    assert result["setup_errors"] == 0


def test_cli_starts_its_own_server(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--clients", "20", "--rate", "100", "--candidates", "2"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["lost"] == 0 and result["rooms"] == 10
    assert result["servers_usage"][0]["VmRSS_mb"] > 0


def test_percentile() -> None:
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile(list(map(float, range(101))), 99) == 99.0
