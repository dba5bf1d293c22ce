"""Load test: `python -m tools.signaling_loadtest [--clients 1000] [--rate 100] [--redis]`.

Starts the server(s) as separate processes (or targets --url), connects all clients, then
sets up calls at --rate rooms a second: the first member joins, the second joins and offers,
the first answers, and each sends --candidates candidates. Every relayed message carries its
room, sender and sequence number and its send time, so the receiver can tell a lost,
duplicated or misrouted message and the relay latency (send → receive, both measured in this
process, so it includes the load generator's own delays). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import aiohttp

REPLY_TIMEOUT_S = 30.0
CONNECT_CONCURRENCY = 100


@dataclass
class Tally:
    latencies_s: list[float] = field(default_factory=list)
    received: set[tuple[str, int]] = field(default_factory=set)  # (sender id, seq)
    duplicated: int = 0
    misrouted: int = 0
    errors: list[str] = field(default_factory=list)


class LoadClient:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse, tally: Tally) -> None:
        self.ws = ws
        self.tally = tally
        self.id = ""
        self.room = ""
        self.partner = ""
        self.control: asyncio.Queue[dict[str, Any]] = asyncio.Queue()  # non-relayed messages
        self.relayed: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for frame in self.ws:
            if frame.type != aiohttp.WSMsgType.TEXT:
                continue
            now = time.perf_counter()
            message = json.loads(frame.data)
            tag = message.get("lt")
            if tag is None:
                self.control.put_nowait(message)
                continue
            self.tally.latencies_s.append(now - tag["t"])
            key = (message.get("from", ""), tag["seq"])
            if tag["room"] != self.room or message.get("from") != self.partner:
                self.tally.misrouted += 1
            elif key in self.tally.received:
                self.tally.duplicated += 1
            else:
                self.tally.received.add(key)
            self.relayed.put_nowait(message)

    async def expect(self, kind: str, who: str = "") -> dict[str, Any]:
        message = await asyncio.wait_for(self.control.get(), REPLY_TIMEOUT_S)
        if message.get("type") != kind:
            raise RuntimeError(f"{who} expected {kind}, got {message}")
        return message

    async def send_relayed(self, kind: str, seq: int, **fields: Any) -> None:
        tag = {"room": self.room, "seq": seq, "t": time.perf_counter()}
        await self.ws.send_str(json.dumps({"type": kind, "to": self.partner, "lt": tag,
                                           **fields}))


def candidate(i: int, port: int) -> dict[str, Any]:
    return {"candidate": f"candidate:{i} 1 udp {2122260223 - i} 127.0.0.1 {port} typ host "
                         "generation 0 ufrag abcd network-id 1",
            "sdpMid": "0", "sdpMLineIndex": 0}


SDP = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" + "a=x:" + "y" * 2000 + "\r\n"


async def set_up_call(room: str, a: LoadClient, b: LoadClient, candidates: int) -> float:
    """One call set-up; returns its duration in seconds."""
    started = time.perf_counter()
    a.room = b.room = room
    await a.ws.send_str(json.dumps({"type": "join", "room": room, "v": 1}))
    a.id = (await a.expect("joined", "first member"))["id"]
    b.partner = a.id
    await b.ws.send_str(json.dumps({"type": "join", "room": room}))
    joined = await b.expect("joined", f"second member (first {a.id})")
    b.id = joined["id"]
    a.partner = b.id
    if joined["peers"] != [a.id]:
        raise RuntimeError(f"room {room}: peers {joined['peers']}, expected [{a.id}]")
    await a.expect("peer-joined")
    await b.send_relayed("offer", 0, sdp=SDP)
    offer = await asyncio.wait_for(a.relayed.get(), REPLY_TIMEOUT_S)
    if offer["type"] != "offer":
        raise RuntimeError(f"room {room}: expected the offer first, got {offer['type']}")
    await a.send_relayed("answer", 0, sdp=SDP)
    for i in range(candidates):
        await a.send_relayed("candidate", i + 1, candidate=candidate(i, 50000 + i))
    answer = await asyncio.wait_for(b.relayed.get(), REPLY_TIMEOUT_S)
    if answer["type"] != "answer":
        raise RuntimeError(f"room {room}: expected the answer first, got {answer['type']}")
    for i in range(candidates):
        await b.send_relayed("candidate", i + 1, candidate=candidate(i, 40000 + i))
    for client in (a, b):
        for _ in range(candidates):
            await asyncio.wait_for(client.relayed.get(), REPLY_TIMEOUT_S)
    return time.perf_counter() - started


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def server_usage(pid: int) -> dict[str, float]:
    """Resident memory now and at peak (MB), and CPU time used so far (s), from /proc."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[f"{key}_mb"] = round(int(value.split()[0]) / 1024, 1)
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    fields["cpu_s"] = round((int(stat[11]) + int(stat[12])) / ticks, 2)  # utime + stime
    return fields


async def run_load(urls: list[str], clients: int, rate: float, candidates: int) -> dict[str, Any]:
    tally = Tally()
    rooms = clients // 2
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

        async def open_client(i: int) -> LoadClient:
            async with gate:  # the second member of each room on the next server
                ws = await session.ws_connect(urls[(i // 2 + i % 2) % len(urls)])
            return LoadClient(ws, tally)

        started = time.perf_counter()
        members = await asyncio.gather(*(open_client(i) for i in range(2 * rooms)))
        connect_s = time.perf_counter() - started

        durations: list[float] = []

        async def paced(room: int, t0: float) -> None:
            await asyncio.sleep(max(0.0, t0 + room / rate - time.perf_counter()))
            try:
                durations.append(await set_up_call(
                    f"load-{room}", members[2 * room], members[2 * room + 1], candidates))
            except (RuntimeError, TimeoutError, ConnectionError) as exc:
                tally.errors.append(f"room {room}: {exc!r}"[:200])

        lags_s: list[float] = []
        probe = asyncio.create_task(_loop_lag(lags_s))
        t0 = time.perf_counter()
        await asyncio.gather(*(paced(room, t0) for room in range(rooms)))
        setup_s = time.perf_counter() - t0
        probe.cancel()
        result: dict[str, Any] = {
            "connect_s": round(connect_s, 2), "setup_phase_s": round(setup_s, 2),
            "setups_per_s": round(rooms / setup_s, 1),
            "setup_ms_p50": round(1000 * percentile(durations, 50), 1),
            "setup_ms_p99": round(1000 * percentile(durations, 99), 1)}
        result["_members"] = members
        await asyncio.sleep(0.2)  # anything late or duplicated arrives now
        expected = rooms * 2 * (candidates + 1)
        lat_ms = [1000 * s for s in tally.latencies_s]
        result.update({
            "messages_expected": expected, "messages_received": len(tally.received),
            "lost": expected - len(tally.received), "duplicated": tally.duplicated,
            "misrouted": tally.misrouted, "setup_errors": len(tally.errors),
            "first_errors": tally.errors[:5],
            "latency_ms_p50": round(percentile(lat_ms, 50), 2),
            "latency_ms_p95": round(percentile(lat_ms, 95), 2),
            "latency_ms_p99": round(percentile(lat_ms, 99), 2),
            "latency_ms_max": round(max(lat_ms, default=float("nan")), 2),
            # how late this process's own loop woke up: a share of the latency above is ours
            "loadgen_loop_lag_ms_p99": round(1000 * percentile(lags_s, 99), 2),
        })
        return result


async def _loop_lag(lags_s: list[float], period_s: float = 0.01) -> None:
    """Record how much later than asked the event loop wakes this task."""
    while True:
        asked = time.perf_counter() + period_s
        await asyncio.sleep(period_s)
        lags_s.append(max(0.0, time.perf_counter() - asked))


async def close_all(members: list[LoadClient]) -> None:
    await asyncio.gather(*(m.ws.close() for m in members), return_exceptions=True)
    for member in members:
        member.reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await member.reader


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(extra: list[str]) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen([sys.executable, "-m", "signaling", "--port", "0", *extra],
                               stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    found = re.search(r"(ws://\S+/ws)", process.stderr.readline())
    if not found:
        process.kill()
        raise SystemExit("loadtest: the signaling server did not start")
    threading.Thread(target=_relay_log, args=(process.stderr,), daemon=True).start()
    return process, found.group(1)


def _relay_log(stream: IO[str]) -> None:
    """Pass the server's log on to ours, so a full pipe never blocks the server."""
    for line in stream:
        sys.stderr.write(f"[server] {line}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.signaling_loadtest", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=1000, help="even number (default 1000)")
    parser.add_argument("--rate", type=float, default=100.0, help="call set-ups per second")
    parser.add_argument("--candidates", type=int, default=10, help="candidates each way")
    parser.add_argument("--url", action="append", help="target running server(s) instead")
    parser.add_argument("--servers", type=int, default=1, help="server processes to start")
    parser.add_argument("--redis", help="Redis URL for the servers; 'start' runs a redis-server")
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args(argv)
    if args.clients < 2 or args.rate <= 0 or args.servers < 1:
        parser.error("--clients must be at least 2, --rate and --servers positive")
    if args.servers > 1 and not args.redis:
        parser.error("several --servers need --redis to share rooms")
    fd_limit = raise_fd_limit()  # the servers started below inherit it
    if fd_limit < args.clients + 100:
        parser.error(f"the open-file limit is {fd_limit}; raise it (ulimit -n) or use fewer "
                     "--clients")
    children: list[subprocess.Popen[Any]] = []
    try:
        redis_url = args.redis
        if redis_url == "start":
            binary = shutil.which("redis-server")
            if binary is None:
                parser.error("--redis start needs redis-server (apt-get install redis-server)")
            port = free_port()
            children.append(subprocess.Popen(
                [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""],
                stdout=subprocess.DEVNULL))
            time.sleep(0.5)
            redis_url = f"redis://127.0.0.1:{port}/0"
        servers: list[subprocess.Popen[str]] = []
        urls = args.url or []
        if not urls:
            for _ in range(args.servers):
                process, url = start_server(["--redis", redis_url] if redis_url else [])
                servers.append(process)
                urls.append(url)
        children.extend(servers)
        result = asyncio.run(_measure(urls, servers, args))
    finally:
        for child in reversed(children):
            child.terminate()
            child.wait(30)
    result.update({"clients": args.clients, "rooms": args.clients // 2, "rate": args.rate,
                   "candidates_each_way": args.candidates, "servers": len(urls),
                   "backend": "redis" if args.redis else "memory"})
    text = json.dumps(result, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    good = not (result["lost"] or result["duplicated"] or result["misrouted"]
                or result["setup_errors"])
    return 0 if good else 1


async def _measure(urls: list[str], servers: list[subprocess.Popen[str]],
                   args: argparse.Namespace) -> dict[str, Any]:
    result = await run_load(urls, args.clients, args.rate, args.candidates)
    members = result.pop("_members")
    result["servers_usage"] = [server_usage(s.pid) for s in servers]  # all clients still open
    await close_all(members)
    return result


if __name__ == "__main__":
    sys.exit(main())
