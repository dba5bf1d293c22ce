"""The CLI: python -m signaling, graceful shutdown on SIGTERM, scale-out with --redis."""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import sys

import pytest

from signaling.__main__ import main
from signaling.protocol import CloseCode, ErrorCode
from tests.signaling.support import REPO_ROOT, connect, redis_server, signaling_process


@pytest.mark.parametrize("args", [
    ["--room-capacity", "0"], ["--max-message-bytes", "10"], ["--heartbeat-s", "0"],
    ["--redis", "localhost:6379"], ["--port", "x"],
])
def test_bad_arguments_exit_2_with_a_message(args: list[str],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(args)
    assert exited.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_port_in_use_is_a_one_line_error() -> None:
    with signaling_process() as (_, url):
        port = url.rsplit(":", 1)[1]
        result = subprocess.run(
            [sys.executable, "-m", "signaling", "--port", port], cwd=REPO_ROOT,
            capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert "cannot start" in result.stderr and "Traceback" not in result.stderr


def test_sigterm_tells_clients_and_exits_cleanly() -> None:
    async def scenario(process: subprocess.Popen[str], url: str) -> None:
        a, b = await connect(url), await connect(url)
        await a.join("bye")
        await b.join("bye")
        await a.expect("peer-joined")
        process.send_signal(signal.SIGTERM)
        for client in (a, b):
            assert (await client.expect("error"))["code"] == ErrorCode.SHUTDOWN
            assert await client.recv() is None
            assert client.close_frame_code == CloseCode.GOING_AWAY
            await client.close()

    with signaling_process() as (process, url):
        asyncio.run(scenario(process, url))
        assert process.wait(15) == 0
        assert process.stderr is not None
        assert "Traceback" not in process.stderr.read()


@pytest.mark.skipif(shutil.which("redis-server") is None,
                    reason="redis-server not installed (apt-get install -y redis-server)")
def test_two_processes_share_a_room_through_redis() -> None:
    pytest.importorskip("redis", reason="the redis package is not installed (pip install redis)")

    async def scenario(url_a: str, url_b: str) -> None:
        a, b = await connect(url_a), await connect(url_b)
        await a.join("scale")
        assert (await b.join("scale"))["peers"] == [a.id]
        await b.send({"type": "offer", "sdp": "o"})
        assert (await a.expect("peer-joined"))["id"] == b.id
        assert (await a.expect("offer"))["from"] == b.id
        await a.send({"type": "answer", "sdp": "a"})
        assert (await b.expect("answer"))["from"] == a.id
        await a.close()
        await b.close()

    with redis_server() as redis_url, signaling_process("--redis", redis_url) as (_, url_a), \
            signaling_process("--redis", redis_url) as (_, url_b):
        asyncio.run(scenario(url_a, url_b))
