"""Benchmark of the relay: ``python -m tools.bench_relay [--rate-mbps 50] [--seconds 10]``.

Starts ``python -m netem`` in a child process (so the relay has a core of its own) on a
constant trace with room to spare, makes two TURN allocations with aioice's client, binds a
channel each way, then pushes ``--size``-byte payloads from the first to the second as raw
ChannelData at ``--rate-mbps`` (paced in 1-ms steps). Prints:

* packets/s forwarded (received by the second client) and the loss count;
* p50/p99/max of (actual - scheduled) delivery time: when the relay handed each packet on
  versus when the link model said it was due, from the relay's ``netem total up`` line
  (0.05-ms bins) or, with ``--packet-log``, from its per-packet log;
* p50/p95/p99 of the one-way delay measured by the receiver minus the configured
  ``--delay-ms`` (it includes both client hops and the bench's own event loop);
* with ``--packet-log``, also p50/p95 of the time each packet spent in the relay beyond the
  configured delay (enqueue to hand-on, queueing included);
* the relay process's CPU time (startup included) and the machine's load average.

Figures only; nothing is asserted (the machines are shared and noisy).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from aioice import turn

USER, PASSWORD = "bench", "bench"
CHANNEL = 0x4000
STAMP = struct.Struct("!Id")
SOCKET_BUFFER_BYTES = 4 * 1024 * 1024


class _Receiver(turn.TurnClientUdpProtocol):
    """aioice's TURN client that also timestamps ChannelData as it arrives."""

    arrivals: list[tuple[float, bytes]]

    def datagram_received(self, data: bytes | str, addr: tuple[str, int]) -> None:
        if isinstance(data, bytes) and len(data) >= 4 and data[0] & 0xC0 == 0x40:
            self.arrivals.append((time.monotonic(), data[4 : 4 + STAMP.size]))
            return
        super().datagram_received(data, addr)


async def _client(
    server: tuple[str, int], cls: type[turn.TurnClientUdpProtocol]
) -> tuple[turn.TurnClientUdpProtocol, tuple[str, int]]:
    loop = asyncio.get_running_loop()
    _, proto = await loop.create_datagram_endpoint(
        lambda: cls(server, USER, PASSWORD, lifetime=600, channel_refresh_time=500),
        remote_addr=server,
    )
    sock = proto.transport.get_extra_info("socket")
    for opt in (socket.SO_RCVBUF, socket.SO_SNDBUF):
        sock.setsockopt(socket.SOL_SOCKET, opt, SOCKET_BUFFER_BYTES)
    relayed = await proto.connect()
    return proto, relayed


async def _run(server: tuple[str, int], args: argparse.Namespace) -> dict[str, float]:
    sender, relayed_a = await _client(server, turn.TurnClientUdpProtocol)
    receiver, relayed_b = await _client(server, _Receiver)
    assert isinstance(receiver, _Receiver)
    receiver.arrivals = []
    await sender.channel_bind(CHANNEL, relayed_b)
    await receiver.channel_bind(CHANNEL, relayed_a)  # the permission for A's relay

    interval_s = args.size * 8 / (args.rate_mbps * 1e6)
    header = struct.pack("!HH", CHANNEL, args.size)
    pad = bytes(args.size - STAMP.size)
    send = sender.transport.sendto
    start = time.monotonic()
    sent = 0
    while True:
        now = time.monotonic()
        if now - start >= args.seconds:
            break
        due = int((now - start) / interval_s) + 1
        while sent < due:
            send(header + STAMP.pack(sent, time.monotonic()) + pad)
            sent += 1
        await asyncio.sleep(0.001)
    await asyncio.sleep(0.5 + args.delay_ms / 1e3)
    arrivals = receiver.arrivals
    for proto in (sender, receiver):
        await proto.delete()
    delays = [(t - STAMP.unpack(d)[1]) * 1e3 - args.delay_ms for t, d in arrivals]
    first, last = arrivals[0][0], arrivals[-1][0]
    return {
        "sent": sent,
        "received": len(arrivals),
        "pps": (len(arrivals) - 1) / (last - first) if last > first else 0.0,
        "owd_extra_p50": float(np.percentile(delays, 50)),
        "owd_extra_p95": float(np.percentile(delays, 95)),
        "owd_extra_p99": float(np.percentile(delays, 99)),
    }


def _late_from_summary(text: str) -> tuple[float, float, float, int]:
    """p50, p99, max lateness and packets from the relay's ``netem total up:`` line."""
    for line in text.splitlines():
        if line.startswith("netem total up:"):
            packets = int(line.split(" packets ")[1].split()[0])
            p50, p99, top = line.split("late p50/p99/max ")[1].split()[0].split("/")
            return float(p50), float(p99), float(top), packets
    raise RuntimeError(f"the relay printed no summary: {text.strip()[-300:]!r}")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.bench_relay", description=__doc__)
    p.add_argument("--rate-mbps", type=float, default=50.0)
    p.add_argument("--size", type=int, default=1500, help="payload bytes per packet")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--trace", default="const-120mbps", help="constant, with room to spare")
    p.add_argument("--delay-ms", type=float, default=0.0)
    p.add_argument("--packet-log", action="store_true",
                   help="also make the relay write its JSONL packet log (costs it some CPU) "
                        "and compute the lateness from it")
    p.add_argument("--relay-nice", type=int, default=None,
                   help="run the relay under nice -n N (negative needs root): shows how much "
                        "of the timer error is the relay waiting for a CPU on a busy machine")
    p.add_argument("--relay-realtime", action="store_true",
                   help="run the relay under chrt -r 10 (SCHED_RR; needs root)")
    args = p.parse_args(argv)
    if args.size < STAMP.size:
        print(f"bench_relay: --size must be at least {STAMP.size}", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory() as tmp:
        log_path = Path(tmp) / "packets.jsonl"
        cmd = [sys.executable, "-m", "netem", "--listen", "127.0.0.1:0", "--up", args.trace,
               "--down", args.trace, "--delay-ms", str(args.delay_ms), "--user",
               f"{USER}:{PASSWORD}", "--stats-interval", "0"]
        if args.packet_log:
            cmd += ["--packet-log", str(log_path)]
        if args.relay_nice is not None:
            cmd = ["nice", "-n", str(args.relay_nice), *cmd]
        if args.relay_realtime:
            cmd = ["chrt", "-r", "10", *cmd]
        cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.monotonic()
        relay = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
        try:
            assert relay.stderr is not None
            banner = relay.stderr.readline()
            if "turn:" not in banner:
                print(f"bench_relay: relay did not start: {banner.strip()}", file=sys.stderr)
                return 1
            host, port = banner.split("turn:")[1].split()[0].rsplit(":", 1)
            result = asyncio.run(_run((host, int(port)), args))
        finally:
            relay.terminate()
            _, rest = relay.communicate(timeout=30)
        relay_wall_s = time.monotonic() - started
        cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        relay_cpu_s = (cpu_after.ru_utime + cpu_after.ru_stime) - (
            cpu_before.ru_utime + cpu_before.ru_stime
        )
        late_p50, late_p99, late_max, logged = _late_from_summary(rest)
        if args.packet_log:
            records = [json.loads(line) for line in log_path.read_text().splitlines()]
            late = [r["sent_ms"] - r["delivered_ms"] for r in records
                    if r["direction"] == "up" and "sent_ms" in r]
            late_p50, late_p99 = (float(x) for x in np.percentile(late, [50, 99]))
            late_max, logged = max(late), len(late)
            held = [r["sent_ms"] - r["enqueued_ms"] - args.delay_ms for r in records
                    if r["direction"] == "up" and "sent_ms" in r]
            held_p50, held_p95 = (float(x) for x in np.percentile(held, [50, 95]))

    print(f"offered      {args.rate_mbps:.1f} Mbit/s of {args.size}-byte payloads "
          f"for {args.seconds:.0f} s on {args.trace}, delay {args.delay_ms:.0f} ms")
    print(f"forwarded    {result['pps']:.0f} packets/s "
          f"({result['received']}/{result['sent']} received; relay delivered {logged})")
    print(f"scheduling   actual - scheduled: p50 {late_p50:.3f} ms  p99 {late_p99:.3f} ms  "
          f"max {late_max:.3f} ms")
    print(f"one-way      minus configured delay: p50 {result['owd_extra_p50']:.3f} ms  "
          f"p95 {result['owd_extra_p95']:.3f} ms  p99 {result['owd_extra_p99']:.3f} ms")
    if args.packet_log:
        print(f"in relay     handed on - received - configured delay: p50 {held_p50:.3f} ms  "
              f"p95 {held_p95:.3f} ms (queueing included)")
    print(f"relay CPU    {relay_cpu_s:.2f} s over {relay_wall_s:.1f} s "
          f"({100 * relay_cpu_s / relay_wall_s:.0f}% of one core; load average now "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
