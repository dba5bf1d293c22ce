"""python -m signaling --host H --port P: the signaling server and the demo page.

SIGTERM/SIGINT shut down gracefully: every client gets an error frame with code "shutdown"
and close code 1001, the others in rooms shared through Redis are told peer-left.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys

from aiohttp import web

from signaling.backend import Backend, MemoryBackend
from signaling.connection import QueueLimits
from signaling.server import ServerConfig, SignalingServer
from signaling.tokens import SECRET_ENV

DEFAULTS = ServerConfig()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m signaling", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8080, help="port (0 picks a free one)")
    parser.add_argument("--room-capacity", type=int, default=DEFAULTS.room_capacity,
                        help="members per room (default %(default)s)")
    parser.add_argument("--max-message-bytes", type=int, default=DEFAULTS.max_message_bytes,
                        help="largest accepted frame; larger ones close with 1009 "
                             "(default %(default)s)")
    parser.add_argument("--send-queue-bytes", type=int, default=DEFAULTS.send_queue.max_bytes,
                        help="per-client send queue limit; beyond it the client is closed "
                             "with 4001 (default %(default)s)")
    parser.add_argument("--heartbeat-s", type=float, default=DEFAULTS.heartbeat_s,
                        help="ping interval; a client silent for half of it after a ping is "
                             "evicted (default %(default)s)")
    parser.add_argument("--join-timeout-s", type=float, default=DEFAULTS.join_timeout_s,
                        help="sockets that do not join by then are closed with 4000 "
                             "(default %(default)s)")
    parser.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                        help='browser origin allowed besides the server\'s own, e.g. '
                             'https://example.org; "*" allows any (repeatable)')
    parser.add_argument("--token-secret", default=os.environ.get(SECRET_ENV),
                        help=f"require HMAC tokens in join (default: ${SECRET_ENV}; mint "
                             "with python -m signaling.tokens)")
    parser.add_argument("--redis", metavar="URL",
                        help="share rooms with other server processes through Redis, "
                             "e.g. redis://127.0.0.1:6379/0 (default: in memory)")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    if args.room_capacity < 1:
        parser.error("--room-capacity must be at least 1")
    if args.max_message_bytes < 1024:
        parser.error("--max-message-bytes must be at least 1024")
    if args.send_queue_bytes < args.max_message_bytes:
        parser.error("--send-queue-bytes must be at least --max-message-bytes")
    if args.heartbeat_s <= 0 or args.join_timeout_s <= 0:
        parser.error("--heartbeat-s and --join-timeout-s must be positive")
    if args.redis and not args.redis.startswith(("redis://", "rediss://", "unix://")):
        parser.error("--redis must be a URL like redis://127.0.0.1:6379/0")
    return args


def make_server(args: argparse.Namespace) -> SignalingServer:
    config = ServerConfig(
        room_capacity=args.room_capacity,
        max_message_bytes=args.max_message_bytes,
        send_queue=QueueLimits(max_bytes=args.send_queue_bytes),
        heartbeat_s=args.heartbeat_s,
        join_timeout_s=args.join_timeout_s,
        allowed_origins=tuple(args.allow_origin),
        token_secret=args.token_secret or None,
    )
    backend: Backend
    if args.redis:
        try:
            from signaling.backend_redis import RedisBackend
        except ImportError:
            raise SystemExit("signaling: --redis needs the redis package "
                             "(pip install -r requirements.txt)") from None

        backend = RedisBackend(args.redis, config.room_capacity)
    else:
        backend = MemoryBackend(config.room_capacity)
    return SignalingServer(config, backend)


async def serve(args: argparse.Namespace) -> None:
    server = make_server(args)
    runner = web.AppRunner(server.app(), handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port)
    await site.start()
    host, port = runner.addresses[0][:2]
    print(f"signaling on ws://{host}:{port}/ws, demo page http://{host}:{port}/ "
          f"(backend {server.backend.name})", file=sys.stderr, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING)
    try:
        asyncio.run(serve(args))
    except OSError as exc:
        print(f"signaling: cannot start on {args.host}:{args.port} "
              f"(or reach --redis): {exc.strerror or exc}; check the address", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
