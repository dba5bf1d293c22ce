"""One call: join a room, negotiate with the other member, send and receive video, measure.

Roles follow the room: the first member waits, the second makes the offer. Each side puts its
source clock (`SourceClock`) in its offer or answer, so the other side can turn stamps into
capture times. The call lasts `duration_s` from the moment media can flow, or until the other
side says bye or leaves; either way the metrics end with a summary.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.rtcconfiguration import RTCIceTransportPolicy
from aiortc.sdp import candidate_from_sdp

from peer.aiortc_glue import (
    HostCandidates,
    assemble_frames_at_once,
    decode_log,
    harden_ice_receive,
    hook_transport,
    ice_servers,
    negotiate_transport_cc,
    prefer_vp8,
    sender_ssrc,
    take_keyframe_request,
    use_host_candidates,
)
from peer.congestion import CongestionControl
from peer.encoded_track import ControlledVideoTrack
from peer.metrics import MetricsLog, summarize
from peer.receiver import FrameReceiver
from peer.sink import open_sink
from peer.source import RawVideoTrack, SourceClock
from peer.sources import open_source
from peer.testpattern import DEFAULT_FPS, DEFAULT_HEIGHT, DEFAULT_WIDTH
from ratecontrol.controllers import DEFAULT_CONTROLLER, make_controller
from ratecontrol.types import RateController
from signaling.client import SignalingClient, SignalingError

log = logging.getLogger("peer.call")
BYE_WAIT_S = 1.0
CLOSE_STEP_TIMEOUT_S = 5.0
SIGNALING_RETRY_FIRST_S = 0.5
SIGNALING_RETRY_MAX_S = 4.0


@dataclass(frozen=True)
class CallConfig:
    signaling_url: str
    room: str
    controller: str = DEFAULT_CONTROLLER  # "aiortc": stock aiortc encoder and REMB
    direction: str = "sendrecv"  # or sendonly / recvonly: one-way calls for experiments
    source: str = "testpattern"  # see peer.sources.open_source
    sink: str = "null"  # see peer.sink.open_sink
    duration_s: float = 10.0
    metrics_path: Path | None = None
    ice_server: str | None = None
    ice_user: str | None = None
    relay_only: bool = False
    host_candidates: HostCandidates = HostCandidates.AUTO
    connect_timeout_s: float = 30.0
    measure_quality: bool = True
    # The other side sends the exported test pattern (peer.y4m) looping every N frames, as a
    # browser fed it by --use-file-for-fake-video-capture does, without announcing it.
    remote_pattern_loop: int | None = None


@dataclass
class CallResult:
    ok: bool
    reason: str
    summary: dict[str, Any]


class CallFailed(Exception):
    pass


class Call:
    def __init__(self, config: CallConfig) -> None:
        self.config = config
        use_host_candidates(config.host_candidates)
        harden_ice_receive()  # a stranger's empty datagram must not end the call
        negotiate_transport_cc()
        self.controller: RateController | None = (
            None if config.controller == "aiortc" else make_controller(config.controller))
        self.metrics = MetricsLog(config.metrics_path)
        self.source = open_source(config.source)
        self.track: ControlledVideoTrack | RawVideoTrack | None = None
        self.congestion: CongestionControl | None = None
        self.receiver = FrameReceiver(open_sink(config.sink), self.metrics, decode_log(),
                                      measure_quality=config.measure_quality)
        if config.remote_pattern_loop:
            self.receiver.remote_clock = SourceClock(
                None, DEFAULT_FPS, DEFAULT_WIDTH, DEFAULT_HEIGHT,
                loop_frames=config.remote_pattern_loop)
        self.pc = RTCPeerConnection(RTCConfiguration(
            iceServers=ice_servers(config.ice_server, config.ice_user),
            iceTransportPolicy=(RTCIceTransportPolicy.RELAY if config.relay_only
                                else RTCIceTransportPolicy.ALL),
        ))
        self.signaling = SignalingClient(config.signaling_url)
        self.remote_id: str | None = None
        self.remote_frames_sent: int | None = None
        self.connected = asyncio.Event()
        self.ended = asyncio.Event()
        self.remote_said_bye = asyncio.Event()
        self.end_reason = ""
        self.failed = False
        self._tasks: set[asyncio.Task[None]] = set()

    # -- life cycle -------------------------------------------------------------------------

    async def run(self) -> CallResult:
        started = time.time()
        connected_at: float | None = None
        try:
            await self.signaling.connect()
            peers = await self.signaling.join(self.config.room)
            print(f"peer: joined room {self.config.room} as {self.signaling.id} "
                  f"({len(peers)} already there)", file=sys.stderr, flush=True)
            self._setup_peer_connection()
            self._spawn(self._read_signaling())
            if peers:
                self.remote_id = peers[0]
                await self._send_offer()
            await self._wait_connected()
            connected_at = time.time()
            self.metrics.write({"type": "event", "event": "connected", "at": connected_at})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.ended.wait(), self.config.duration_s)
            if not self.ended.is_set():
                self._end("duration reached")
        except (SignalingError, CallFailed) as exc:
            self._end(str(exc), failed=True)
        finally:
            await self._hang_up()
        start = connected_at or started
        summary = self._summary(start, max(time.time() - start, 1e-3))
        self.metrics.write(summary)
        self.metrics.close()
        return CallResult(not self.failed, self.end_reason, summary)

    def stop(self, reason: str) -> None:
        """End the call from outside (a signal); the summary is still written."""
        self._end(reason)

    def _end(self, reason: str, failed: bool = False) -> None:
        if not self.ended.is_set():
            self.end_reason, self.failed = reason, failed
            self.ended.set()

    async def _wait_connected(self) -> None:
        connected = asyncio.ensure_future(self.connected.wait())
        ended = asyncio.ensure_future(self.ended.wait())
        done, _ = await asyncio.wait({connected, ended}, timeout=self.config.connect_timeout_s,
                                     return_when=asyncio.FIRST_COMPLETED)
        connected.cancel()
        ended.cancel()
        if not done:
            raise CallFailed(f"no connection within {self.config.connect_timeout_s:g} s")
        if not self.connected.is_set():
            raise CallFailed(f"call ended before it connected: {self.end_reason}")

    async def _hang_up(self) -> None:
        if self.remote_id is not None:
            with contextlib.suppress(SignalingError, ConnectionError, RuntimeError):
                await self.signaling.send({"type": "bye", "to": self.remote_id,
                                           "frames_sent": self._frames_sent()})
            # The other side's bye carries how many frames it sent: worth a moment's wait.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.remote_said_bye.wait(), BYE_WAIT_S)
        # Teardown is bounded: a transport stuck half-way (ICE still checking, an RTCP task
        # that died) must not keep the summary from being written.
        for step in (self.pc.close(), self._stop_congestion(), self.receiver.finish()):
            try:
                await asyncio.wait_for(step, CLOSE_STEP_TIMEOUT_S)
            except TimeoutError:
                log.warning("teardown step timed out after %g s", CLOSE_STEP_TIMEOUT_S)
        self.source.close()
        for task in self._tasks:
            task.cancel()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.signaling.close(), CLOSE_STEP_TIMEOUT_S)

    async def _stop_congestion(self) -> None:
        if self.congestion is not None:
            await self.congestion.stop()

    def _summary(self, start_s: float, duration_s: float) -> dict[str, Any]:
        dlog = self.receiver.decode_log
        return {
            "type": "summary",
            **summarize(self.receiver.frames, duration_s=duration_s, start_s=start_s,
                        frames_sent=self.remote_frames_sent, keyframes=dlog.keyframes),
            "received_kbps": round(dlog.received_bytes * 8 / 1000 / duration_s, 3),
            "start_s": round(start_s, 6),
            "duration_s": round(duration_s, 3),
            "frames_dropped": self.receiver.dropped,
            "frames_unstamped": self.receiver.unstamped,
            "decode_errors": dlog.decode_errors,
            "controller": self.config.controller,
            "sent": self._sender_summary(),
            "frames_abandoned": self.receiver.assembler.frames_abandoned,
            "ended": self.end_reason,
            "ok": not self.failed,
        }

    def _frames_sent(self) -> int:
        if isinstance(self.track, ControlledVideoTrack):
            return self.track.stats.frames_encoded
        return self.source.frames_captured

    def _sender_summary(self) -> dict[str, Any]:
        """What this side sent (the other side's summary measures how it arrived)."""
        sent: dict[str, Any] = {"frames_captured": self.source.frames_captured}
        if isinstance(self.track, ControlledVideoTrack):
            sent.update(vars(self.track.stats))
        if self.congestion is not None:
            sent.update(vars(self.congestion.stats))
        if self.controller is not None:
            sent["target_kbps_final"] = round(self.controller.target_bps() / 1000, 1)
        return sent

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- WebRTC -----------------------------------------------------------------------------

    def _setup_peer_connection(self) -> None:
        if self.controller is None:
            self.track = RawVideoTrack(self.source)
        else:
            self.track = ControlledVideoTrack(
                self.source, self.controller, lambda: take_keyframe_request(transceiver.sender))
        transceiver = self.pc.addTransceiver(self.track, direction=self.config.direction)
        prefer_vp8(transceiver)
        assemble_frames_at_once(transceiver.receiver, self.receiver.assembler)
        self.congestion = CongestionControl(self.controller, sender_ssrc(transceiver.sender))
        self.congestion.start(hook_transport(transceiver, self.congestion))

        @self.pc.on("track")
        def on_track(track: Any) -> None:
            if track.kind == "video":
                self._spawn(self.receiver.consume(track))

        @self.pc.on("connectionstatechange")
        async def on_state() -> None:
            state = self.pc.connectionState
            log.info("connection state %s", state)
            if state == "connected":
                self.connected.set()
            elif state == "failed":
                self._end("connection failed (ICE or DTLS)", failed=not self.connected.is_set())

    async def _send_offer(self) -> None:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        await self._send_description()

    async def _send_description(self) -> None:
        description = self.pc.localDescription
        message: dict[str, Any] = {"type": description.type, "sdp": description.sdp,
                                   "to": self.remote_id}
        if self.source.clock is not None:
            message["source"] = self.source.clock.to_json()
        await self.signaling.send(message)

    # -- signaling --------------------------------------------------------------------------

    async def _read_signaling(self) -> None:
        while True:
            message = await self.signaling.receive()
            if message is None:
                if not self.connected.is_set():
                    self._end("signaling connection closed before the call connected", True)
                    return
                # Media is peer to peer: the call goes on while we find the server again.
                if not await self._rejoin_signaling():
                    return
                continue
            try:
                await self._on_message(message)
            except (ValueError, TypeError, KeyError) as exc:
                log.warning("ignored a malformed %r message: %s", message.get("type"), exc)

    async def _rejoin_signaling(self) -> bool:
        """Reconnect to the signaling server and rejoin the room, backing off, for as long as
        the call lasts. The other side, rejoining too, gets a new id: see peer-joined."""
        await self.signaling.close()
        delay_s = SIGNALING_RETRY_FIRST_S
        while not self.ended.is_set():
            client = SignalingClient(self.config.signaling_url)
            try:
                await client.connect()
                peers = await client.join(self.config.room)
            except SignalingError:
                await client.close()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.ended.wait(), delay_s)
                delay_s = min(delay_s * 2, SIGNALING_RETRY_MAX_S)
                continue
            self.signaling = client
            if peers:
                self.remote_id = peers[0]
            print(f"peer: reconnected to signaling as {client.id}", file=sys.stderr, flush=True)
            self.metrics.write({"type": "event", "event": "signaling-reconnected",
                                "at": time.time()})
            return True
        return False

    async def _on_message(self, message: dict[str, Any]) -> None:
        kind, sender = message.get("type"), message.get("from")
        if kind in ("offer", "answer"):
            if kind == "offer":
                self.remote_id = sender
            announced = SourceClock.from_json(message.get("source"))
            self.receiver.remote_clock = announced or self.receiver.remote_clock
            await self.pc.setRemoteDescription(RTCSessionDescription(message["sdp"], kind))
            if kind == "offer":
                await self.pc.setLocalDescription(await self.pc.createAnswer())
                await self._send_description()
        elif kind == "candidate":
            await self._add_candidate(message.get("candidate"))
        elif kind == "bye" and sender == self.remote_id:
            frames_sent = message.get("frames_sent")
            if isinstance(frames_sent, int):
                self.remote_frames_sent = frames_sent
            self.remote_said_bye.set()
            self._end("the other side hung up")
        elif kind == "peer-joined" and self.connected.is_set():
            self.remote_id = message.get("id")  # the other side, back after losing signaling
        elif kind == "peer-left" and message.get("id") == self.remote_id:
            self.remote_said_bye.set()
            self._end("the other side left the room")
        elif kind == "error":
            log.warning("signaling error %s: %s", message.get("code"), message.get("message"))

    async def _add_candidate(self, data: Any) -> None:
        """A trickled candidate in the browser's RTCIceCandidate.toJSON() shape."""
        if not data or not data.get("candidate"):
            await self.pc.addIceCandidate(None)  # end of candidates
            return
        candidate = candidate_from_sdp(data["candidate"].removeprefix("candidate:"))
        candidate.sdpMid = data.get("sdpMid")
        candidate.sdpMLineIndex = data.get("sdpMLineIndex")
        await self.pc.addIceCandidate(candidate)


async def run_call(config: CallConfig) -> CallResult:
    call = Call(config)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, call.stop, f"stopped by {signal.Signals(sig).name}")
    try:
        return await call.run()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
