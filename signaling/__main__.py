"""python -m signaling --host H --port P: the signaling server and the demo page."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from aiohttp import web

from signaling.server import ServerConfig, SignalingServer


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m signaling", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8080, help="port (0 picks a free one)")
    parser.add_argument("--room-capacity", type=int, default=ServerConfig.room_capacity,
                        help="members per room (default %(default)s)")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    if args.room_capacity < 1:
        parser.error("--room-capacity must be at least 1")
    return args


async def serve(args: argparse.Namespace) -> None:
    server = SignalingServer(ServerConfig(room_capacity=args.room_capacity))
    runner = web.AppRunner(server.app(), handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port)
    await site.start()
    host, port = runner.addresses[0][:2]
    print(f"signaling on ws://{host}:{port}/ws, demo page http://{host}:{port}/",
          file=sys.stderr, flush=True)
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
        print(f"signaling: cannot listen on {args.host}:{args.port}: {exc.strerror}; "
              "pick another --port", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
