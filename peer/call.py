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
    ice_servers,
    prefer_vp8,
    use_host_candidates,
)
from peer.metrics import MetricsLog, summarize
from peer.receiver import FrameReceiver
from peer.sink import NullSink
from peer.source import SourceClock, TestPatternTrack
from signaling.client import SignalingClient, SignalingError

log = logging.getLogger("peer.call")
BYE_WAIT_S = 1.0


@dataclass(frozen=True)
class CallConfig:
    signaling_url: str
    room: str
    duration_s: float = 10.0
    metrics_path: Path | None = None
    ice_server: str | None = None
    ice_user: str | None = None
    relay_only: bool = False
    host_candidates: HostCandidates = HostCandidates.AUTO
    connect_timeout_s: float = 30.0
    measure_quality: bool = True


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
        self.metrics = MetricsLog(config.metrics_path)
        self.source = TestPatternTrack()
        self.receiver = FrameReceiver(NullSink(), self.metrics, decode_log(),
                                      measure_quality=config.measure_quality)
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
        duration = time.time() - (connected_at or started)
        summary = self._summary(duration)
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
                                           "frames_sent": self.source.frames_captured})
            # The other side's bye carries how many frames it sent: worth a moment's wait.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.remote_said_bye.wait(), BYE_WAIT_S)
        await self.pc.close()
        await self.receiver.finish()
        for task in self._tasks:
            task.cancel()
        await self.signaling.close()

    def _summary(self, duration_s: float) -> dict[str, Any]:
        dlog = self.receiver.decode_log
        return {
            "type": "summary",
            **summarize(self.receiver.frames, duration_s=duration_s,
                        frames_sent=self.remote_frames_sent,
                        received_bytes=dlog.received_bytes, keyframes=dlog.keyframes),
            "duration_s": round(duration_s, 3),
            "frames_dropped": self.receiver.dropped,
            "frames_unstamped": self.receiver.unstamped,
            "decode_errors": dlog.decode_errors,
            "frames_abandoned": self.receiver.assembler.frames_abandoned,
            "ended": self.end_reason,
            "ok": not self.failed,
        }

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- WebRTC -----------------------------------------------------------------------------

    def _setup_peer_connection(self) -> None:
        transceiver = self.pc.addTransceiver(self.source, direction="sendrecv")
        prefer_vp8(transceiver)
        assemble_frames_at_once(transceiver.receiver, self.receiver.assembler)

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
        await self.signaling.send({"type": description.type, "sdp": description.sdp,
                                   "to": self.remote_id, "source": self.source.clock.to_json()})

    # -- signaling --------------------------------------------------------------------------

    async def _read_signaling(self) -> None:
        while True:
            message = await self.signaling.receive()
            if message is None:
                if not self.connected.is_set():
                    self._end("signaling connection closed before the call connected", True)
                return  # media is peer to peer: a call already up goes on
            try:
                await self._on_message(message)
            except (ValueError, TypeError, KeyError) as exc:
                log.warning("ignored a malformed %r message: %s", message.get("type"), exc)

    async def _on_message(self, message: dict[str, Any]) -> None:
        kind, sender = message.get("type"), message.get("from")
        if kind in ("offer", "answer"):
            if kind == "offer":
                self.remote_id = sender
            self.receiver.remote_clock = SourceClock.from_json(message.get("source"))
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
