"""``python -m netem``: a TURN relay whose relayed traffic crosses an emulated link.

    python -m netem --listen 127.0.0.1:3478 --up TRACE --down TRACE [--delay-ms N] [--loss P]
        [--queue-packets N] [--reorder P [--reorder-delay-ms N]] [--duplicate P]
        [--burst-loss [DIR:]AT_S:COUNT ...] [--user NAME:PASSWORD ...] [--up-user NAME] [--realm R]
        [--stats-interval S] [--packet-log FILE.jsonl] [--seed N]

``--up`` shapes what the first allocation of a pair sends to the second, ``--down`` the
reverse (see ``netem.turn``: first is the older one, or the one made by an ``--up-user``).
Give each endpoint its own ``--user`` and name the sender's with ``--up-user`` to put what it
sends on ``--up`` whatever the order in which the endpoints allocate (browsers and aiortc
allocate in different orders, and a browser may make several allocations). The banner says
which trace shapes whose sending; statistics lines and the packet log name each direction's
trace file.
A pair name such as ``ATT-LTE-driving`` means its ``.up`` file for ``--up`` and its
``.down`` file for ``--down``. ``--delay-ms``, ``--loss``, ``--queue-packets``, ``--reorder``
and ``--duplicate`` apply to both directions. ``--burst-loss up:10:20`` loses 20 packets in
a row on ``up`` (the default DIR; or ``down``), from the first to leave the queue at or after
trace time 10 s; trace time 0 is when the direction's first path carried its first datagram,
and later paths (an ICE restart) keep that clock and queue. It composes with ``--loss``, is
logged and counted as reason ``burst``, and may be given several times. Without ``--user`` the
one account is ``netem:netem``. Bad arguments or traces: one line on stderr and exit status 2.
Stops on SIGINT/SIGTERM with status 0, after one ``netem total`` line per direction.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import math
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from netem.link import LinkConfig
from netem.loss import BernoulliLoss, LossBurst
from netem.queues import QUEUE_GUARD_BYTES, DropTail
from netem.relay import Relay, RelayConfig
from netem.traces import resolve_trace_pair
from netem.turn import TurnConfig
from netem.turn_alloc import Address
from netem.turn_auth import LongTermAuth
from netem.turn_paths import Direction

DEFAULT_USER = "netem:netem"
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        if message.endswith("expected one argument"):  # argparse took a value such as -1:20
            message += " (write a value that starts with '-' as --flag=VALUE)"
        raise _UsageError(f"{message}; see python -m netem --help")


class _UsageError(Exception):
    pass


def _address(text: str) -> Address:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT (e.g. 127.0.0.1:3478)")
    if host in ("0.0.0.0", "::", "[::]"):
        raise argparse.ArgumentTypeError(
            f"{host} is not one address; relayed addresses are advertised with the listen "
            "host, so give a specific IPv4 address such as 127.0.0.1"
        )
    return (host, int(port))


def _user(text: str) -> tuple[str, str]:
    name, sep, password = text.partition(":")
    if not sep or not name or not password:
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME:PASSWORD")
    return (name, password)


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a probability in [0, 1]")
    return value


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number >= 0")
    return value


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 1")
    return int(text)


def _burst(text: str) -> tuple[Direction, LossBurst]:
    write = "write [up:|down:]AT_S:COUNT, e.g. up:10:20 for 20 packets from trace time 10 s"
    parts = text.split(":")
    if len(parts) == 2:
        parts.insert(0, Direction.UP.value)
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f"{text!r} is not [DIR:]AT_S:COUNT; {write}")
    name, at, count = parts
    if name not in (Direction.UP.value, Direction.DOWN.value):
        raise argparse.ArgumentTypeError(f"{text!r}: direction {name!r} is neither up nor down; "
                                         f"{write}")
    try:
        at_s = float(at)
    except ValueError:
        at_s = math.nan
    if not (math.isfinite(at_s) and at_s >= 0.0):
        raise argparse.ArgumentTypeError(f"{text!r}: AT_S {at!r} is not a time >= 0 in seconds; "
                                         f"{write}")
    if not count.isdigit() or int(count) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: COUNT {count!r} is not a whole number >= 1; "
                                         f"{write}")
    return Direction(name), LossBurst(at_ms=at_s * 1000.0, count=int(count))


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m netem", description=__doc__.split("\n\n")[0])
    p.add_argument("--listen", type=_address, default=("127.0.0.1", 3478), metavar="HOST:PORT")
    p.add_argument("--up", required=True, metavar="TRACE",
                   help="trace name or file (a pair name such as ATT-LTE-driving: its .up)")
    p.add_argument("--down", required=True, metavar="TRACE",
                   help="trace name or file (a pair name: its .down)")
    p.add_argument("--delay-ms", type=_non_negative, default=0.0, help="one-way, each direction")
    p.add_argument("--loss", type=_probability, default=0.0, help="random loss, each direction")
    p.add_argument("--queue-packets", type=_positive_int, default=None, help="drop-tail limit")
    p.add_argument("--reorder", type=_probability, default=0.0,
                   help="share of packets held back by --reorder-delay-ms, each direction")
    p.add_argument("--reorder-delay-ms", type=_non_negative, default=10.0)
    p.add_argument("--duplicate", type=_probability, default=0.0,
                   help="share of packets delivered twice, each direction")
    p.add_argument("--burst-loss", type=_burst, action="append", default=[],
                   metavar="[DIR:]AT_S:COUNT",
                   help="lose COUNT packets in a row of DIR (up, the default, or down) from the "
                        "first to leave the queue at trace time AT_S; repeatable")
    p.add_argument("--user", type=_user, action="append", metavar="NAME:PASSWORD")
    p.add_argument("--up-user", action="append", default=[], metavar="NAME",
                   help="allocations of this --user send on the --up link whatever their "
                        "age (default: the older allocation of a pair sends on --up)")
    p.add_argument("--realm", default="netem")
    p.add_argument("--stats-interval", type=_non_negative, default=1.0, metavar="S",
                   help="seconds between statistics lines; 0 for none")
    p.add_argument("--packet-log", type=Path, default=None, metavar="FILE.jsonl")
    p.add_argument("--seed", type=int, default=0)
    return p


def config_from_args(args: argparse.Namespace) -> RelayConfig:
    """Raises TraceError (a ValueError with a one-line message) for a bad trace."""
    links = []
    traces = (resolve_trace_pair(args.up)[0], resolve_trace_pair(args.down)[1])
    for i, (trace, direction) in enumerate(zip(traces, Direction, strict=True)):
        links.append(
            LinkConfig(
                trace=trace,
                delay_ms=args.delay_ms,
                loss=BernoulliLoss(args.loss),
                bursts=tuple(b for d, b in args.burst_loss if d is direction),
                queue=DropTail(limit_packets=args.queue_packets, limit_bytes=QUEUE_GUARD_BYTES),
                reorder_prob=args.reorder,
                reorder_delay_ms=args.reorder_delay_ms,
                duplicate_prob=args.duplicate,
                seed=args.seed + i,
                keep_records=True,
            )
        )
    users = dict(args.user or [_user(DEFAULT_USER)])
    unknown = sorted(set(args.up_user) - set(users))
    if unknown:
        raise ValueError(f"--up-user {unknown[0]} is not a --user; add --user {unknown[0]}:PASS")
    return RelayConfig(
        up=links[0],
        down=links[1],
        turn=TurnConfig(
            auth=LongTermAuth(users=users, realm=args.realm),
            up_usernames=frozenset(args.up_user),
        ),
        listen=args.listen,
        stats_interval_s=args.stats_interval or None,
        packet_log=args.packet_log,
    )


def describe_roles(config: RelayConfig) -> str:
    """Which trace shapes whose sending, for the banner: e.g. ``up ATT-LTE-driving.down: what
    user sender sends; down ATT-LTE-driving.up: the reverse``."""
    users = sorted(config.turn.up_usernames)
    who = (f"what user{'s' if len(users) > 1 else ''} {', '.join(users)} "
           f"send{'' if len(users) > 1 else 's'}" if users
           else "what the older allocation of a pair sends")
    return f"up {config.up.trace.name}: {who}; down {config.down.trace.name}: the reverse"


async def _serve(config: RelayConfig) -> None:
    relay = Relay(config)
    host, port = await relay.start()
    # Traces and modules live as long as the process: keep full collections from scanning
    # them (a stall there delays every packet in flight).
    gc.freeze()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):  # before the banner: callers stop us after it
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, relay.close)
    print(f"netem: TURN relay on turn:{host}:{port} ({describe_roles(config)})", file=sys.stderr)
    try:
        await relay.wait_closed()
    finally:
        relay.close()


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        config = config_from_args(args)
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else 0
    except _UsageError as exc:
        print(f"netem: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ValueError as exc:  # TraceError and bad link settings
        print(f"netem: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        asyncio.run(_serve(config))
    except OSError as exc:
        print(f"netem: cannot listen on {config.listen[0]}:{config.listen[1]}: "
              f"{exc.strerror or exc}; pick another --listen address", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
