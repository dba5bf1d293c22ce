"""The asyncio adapter of the TURN relay: sockets, timers, statistics, packet log.

It owns no protocol logic. ``netem.turn.TurnServer`` decides everything; this module reads
datagrams from the listen socket and from one UDP relay socket per allocation (bound on the
listen host, port chosen by the kernel), feeds them in with ``loop.time()`` in ms, sends what
the core returns, and keeps one ``loop.call_at`` timer armed at the core's ``next_timer()``.
Links are ``netem.relay_meter.MeteredLink`` over ``netem.link.Link``: one ``up`` link that
every path's UP direction crosses and one ``down`` link for DOWN (see ``netem.turn`` for
what the directions mean, ``netem.turn_paths`` for why one queue per direction). Each is
made when its direction carries its first datagram, which starts its trace clock. Every
``stats_interval_s`` it writes one line per direction, plus one line of TURN counters when
they changed, to
``stats_out``; on close, one ``netem total`` line per direction for the whole run (and one
``total`` record per direction in the packet log). Every line and record names the trace file.

Nothing a client or peer sends can stop it: errors from the core or from a socket are
counted (``internal_errors``, ``send_errors``) and the loop goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from netem.link import Link, LinkConfig
from netem.loss import BurstSchedule
from netem.relay_meter import DirectionMeter, MeteredLink
from netem.turn import Datagram, TurnConfig, TurnServer
from netem.turn_alloc import Address
from netem.turn_paths import Direction, PathLink

logger = logging.getLogger(__name__)

READ_BATCH_DATAGRAMS = 32
SOCKET_BUFFER_BYTES = 4 * 1024 * 1024
MAX_DATAGRAM_BYTES = 65535
STATS_INTERVAL_S_DEFAULT = 1.0


@dataclass(frozen=True)
class RelayConfig:
    """Everything the relay needs; ``listen`` port 0 picks a free port (see ``Relay.address``)."""

    up: LinkConfig
    down: LinkConfig
    turn: TurnConfig
    listen: Address = ("127.0.0.1", 3478)
    stats_interval_s: float | None = STATS_INTERVAL_S_DEFAULT
    packet_log: Path | None = None
    print_summary: bool = True  # one "netem total ..." line per direction on close


@dataclass
class AdapterCounters:
    internal_errors: int = 0
    send_errors: int = 0
    datagrams_in: int = 0
    datagrams_out: int = 0


def _udp_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        for opt in (socket.SO_RCVBUF, socket.SO_SNDBUF):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, opt, SOCKET_BUFFER_BYTES)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


@dataclass
class _Timer:
    handle: asyncio.TimerHandle | None = None
    when_ms: float = float("inf")


class Relay:
    def __init__(self, config: RelayConfig, stats_out: TextIO | None = None) -> None:
        self.config = config
        self.counters = AdapterCounters()
        self.meters = {
            Direction.UP: DirectionMeter(Direction.UP, config.up.trace, config.up.delay_ms),
            Direction.DOWN: DirectionMeter(
                Direction.DOWN, config.down.trace, config.down.delay_ms
            ),
        }
        self._bursts = {
            Direction.UP: BurstSchedule(config.up.bursts),
            Direction.DOWN: BurstSchedule(config.down.bursts),
        }
        self.server = TurnServer(config.turn, _PortsView(self), self._make_link)
        self._stats_out = stats_out if stats_out is not None else sys.stderr
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listen: socket.socket | None = None
        self._relays: dict[Address, socket.socket] = {}
        self._timer = _Timer()
        self._stats_handle: asyncio.TimerHandle | None = None
        self._log_file: TextIO | None = None
        self._origin_ms = 0.0
        self._last_counters = self._counters()
        self._closed = asyncio.Event()

    # -- life cycle ------------------------------------------------------------------------

    async def start(self) -> Address:
        """Bind the listen socket and start serving; returns the bound address."""
        loop = self._loop = asyncio.get_running_loop()
        for config in (self.config.up, self.config.down):
            Link(config)  # builds the trace's lookup table now, not on the first packet
        self._origin_ms = self._now_ms()
        host, port = self.config.listen
        self._listen = _udp_socket(host, port)
        if self.config.packet_log is not None:
            self._log_file = open(self.config.packet_log, "w", encoding="utf-8")  # noqa: SIM115
            # Ties the log's clock to the wall clock, so frames can be placed on the trace.
            wall_s = time.time() - (loop.time() * 1e3 - self._origin_ms) / 1e3
            self._write_record({"event": "origin", "wall_s": round(wall_s, 6),
                                **{d.value: self.meters[d].trace_names() for d in Direction},
                                "up_users": sorted(self.config.turn.up_usernames)})
        loop.add_reader(self._listen.fileno(), self._on_listen_readable)
        if self.config.stats_interval_s:
            for meter in self.meters.values():
                meter.report(self._now_ms())  # opens the first window
            self._stats_handle = loop.call_later(self.config.stats_interval_s, self._on_stats)
        return self.address

    @property
    def address(self) -> Address:
        assert self._listen is not None, "call start() first"
        host, port = self._listen.getsockname()[:2]
        return (host, port)

    def close(self) -> None:
        if self._listen is None:
            return
        self.server.close()  # closes relay sockets through self.close_relay
        now_ms = self._now_ms()
        for direction in Direction:
            self._write_record(self.meters[direction].total_record(now_ms, self._origin_ms))
        if self.config.print_summary:
            with contextlib.suppress(Exception):
                for direction in Direction:
                    print(self.meters[direction].summary(now_ms).line(), file=self._stats_out)
                self._stats_out.flush()
        loop = self._loop
        assert loop is not None
        loop.remove_reader(self._listen.fileno())
        self._listen.close()
        self._listen = None
        for handle in (self._timer.handle, self._stats_handle):
            if handle is not None:
                handle.cancel()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        self._closed.set()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    # -- relay sockets (netem.turn.RelayPorts through _PortsView) --------------------------

    def open_relay(self) -> Address:
        assert self._loop is not None
        sock = _udp_socket(self.address[0], 0)
        addr: Address = sock.getsockname()[:2]
        self._relays[addr] = sock
        self._loop.add_reader(sock.fileno(), self._on_relay_readable, sock, addr)
        return addr

    def close_relay(self, relayed: Address) -> None:
        sock = self._relays.pop(relayed, None)
        if sock is not None and self._loop is not None:
            self._loop.remove_reader(sock.fileno())
            sock.close()

    # -- event handlers --------------------------------------------------------------------

    def _now_ms(self) -> float:
        loop = self._loop or asyncio.get_running_loop()
        return loop.time() * 1e3

    def _make_link(self, direction: Direction, now_ms: float) -> PathLink:
        config = self.config.up if direction is Direction.UP else self.config.down
        log = self._write_record if self._log_file is not None else None
        return MeteredLink(config, self.meters[direction], now_ms, self._origin_ms, log,
                           self._bursts[direction] if config.bursts else None)

    def _write_record(self, record: dict[str, Any]) -> None:
        if self._log_file is not None:
            self._log_file.write(json.dumps(record, separators=(",", ":")) + "\n")

    def _read(self, sock: socket.socket, feed: Any) -> None:
        for _ in range(READ_BATCH_DATAGRAMS):
            try:
                data, addr = sock.recvfrom(MAX_DATAGRAM_BYTES)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:  # e.g. an ICMP error reported on the socket: keep going
                continue
            self.counters.datagrams_in += 1
            now_ms = self._now_ms()
            try:
                feed(data, (addr[0], addr[1]), now_ms)
            except Exception:
                self.counters.internal_errors += 1
                logger.exception("netem: datagram from %s caused an internal error", addr)
            if now_ms >= self._timer.when_ms:  # deliveries fall due while reading a burst
                self._on_timer()
        self._flush()

    def _on_listen_readable(self) -> None:
        if self._listen is not None:
            self._read(self._listen, self.server.receive_client_datagram)

    def _on_relay_readable(self, sock: socket.socket, relayed: Address) -> None:
        def feed(data: bytes, peer: Address, now_ms: float) -> None:
            self.server.receive_peer_datagram(relayed, data, peer, now_ms)

        self._read(sock, feed)

    def _on_timer(self) -> None:
        if self._timer.handle is not None:
            self._timer.handle.cancel()  # when called early from _read; harmless from the loop
        self._timer = _Timer()
        try:
            self.server.handle_timer(self._now_ms())
        except Exception:
            self.counters.internal_errors += 1
            logger.exception("netem: timer caused an internal error")
        self._flush()

    def _flush(self) -> None:
        if self._listen is None:
            return
        try:
            out = self.server.datagrams_to_send(self._now_ms())
        except Exception:
            self.counters.internal_errors += 1
            logger.exception("netem: draining the core caused an internal error")
            out = []
        for datagram in out:
            self._send(datagram)
        self._arm()

    def _send(self, datagram: Datagram) -> None:
        sock = self._listen if datagram.source is None else self._relays.get(datagram.source)
        if sock is None:
            self.counters.send_errors += 1
            return
        try:
            sock.sendto(datagram.data, datagram.dest)
            self.counters.datagrams_out += 1
        except OSError:  # full buffer (UDP drops it), unreachable address...
            self.counters.send_errors += 1

    def _arm(self) -> None:
        when_ms = self.server.next_timer()
        if when_ms is None or when_ms >= self._timer.when_ms:
            return  # an earlier (or equal) wake-up is already armed; it re-arms when it fires
        if self._timer.handle is not None:
            self._timer.handle.cancel()
        assert self._loop is not None
        handle = self._loop.call_at(when_ms / 1e3, self._on_timer)
        self._timer = _Timer(handle, when_ms)

    def _counters(self) -> dict[str, int]:
        counters = {**self.server.counters.as_dict(), **vars(self.counters)}
        del counters["datagrams_in"], counters["datagrams_out"]
        return counters

    def _on_stats(self) -> None:
        assert self._loop is not None
        now_ms = self._now_ms()
        try:
            for direction in Direction:
                print(self.meters[direction].report(now_ms).line(), file=self._stats_out)
            counters = self._counters()
            if counters != self._last_counters:
                shown = " ".join(f"{k}={v}" for k, v in counters.items() if v)
                print(f"netem turn: allocations={len(self.server.allocations)} {shown}",
                      file=self._stats_out)
                self._last_counters = counters
            self._stats_out.flush()
        except Exception:
            logger.exception("netem: statistics failed")
        interval = self.config.stats_interval_s
        if interval and self._listen is not None:
            self._stats_handle = self._loop.call_later(interval, self._on_stats)


@dataclass
class _PortsView:
    """``netem.turn.RelayPorts`` over a :class:`Relay` (its own ``close`` stops the relay)."""

    relay: Relay = field(repr=False)

    def open(self) -> Address:
        return self.relay.open_relay()

    def close(self, relayed: Address) -> None:
        self.relay.close_relay(relayed)
