"""One call: join a room, negotiate with the other member, send and receive video, measure.

Roles follow the room: the first member waits, the second makes the offer. Each side puts its
source clock (`SourceClock`) in its offer or answer, so the other side can turn stamps into
capture times. The call lasts `duration_s` from the moment media can flow, or until the other
side says bye or leaves; either way the metrics end with a summary.

When the path dies mid-call (ICE consent expires: nothing authenticated heard for
`CONSENT_TIMEOUT_S`, RFC 7675's 30 s, or aioice's own consent checks fail) the offerer starts
a new session (`peer.session`) over signaling, a fresh attempt every `RESTART_ATTEMPT_S`, and
the answerer accepts it; either gives up after `RESTART_GIVE_UP_S`. The sender logs its rate
every `RATE_LOG_INTERVAL_S`, so outages and recoveries can be measured from the metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.sdp import candidate_from_sdp

from peer.aiortc_glue import (
    HostCandidates,
    decode_log,
    harden_ice_receive,
    negotiate_transport_cc,
    use_host_candidates,
)
from peer.metrics import DEFAULT_SOURCE_FPS, MetricsLog, summarize
from peer.receiver import FrameReceiver
from peer.session import CLOSE_STEP_TIMEOUT_S, MediaSession
from peer.sink import open_sink
from peer.source import SourceClock
from peer.sources import open_source, remote_clock
from ratecontrol.controllers import DEFAULT_CONTROLLER
from signaling.client import SignalingClient, SignalingError

log = logging.getLogger("peer.call")
BYE_WAIT_S = 1.0
SIGNALING_RETRY_FIRST_S = 0.5
SIGNALING_RETRY_MAX_S = 4.0
CONSENT_TIMEOUT_S = 30.0  # RFC 7675 §5.1: consent expires 30 s after it was last confirmed
CONSENT_POLL_S = 0.5
RESTART_ATTEMPT_S = 3.0  # ICE checks back off (0.5, 1, 2 s ...): a fresh attempt is quicker
RESTART_GIVE_UP_S = 60.0
RATE_LOG_INTERVAL_S = 0.25


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
    nack: bool = True  # False: ask for no retransmission, only keyframes (PLI) repair loss
    # The other side sends the exported test pattern (peer.y4m) looping every N frames, as a
    # browser fed it by --use-file-for-fake-video-capture does, without announcing it.
    remote_pattern_loop: int | None = None
    remote_source: str = "testpattern"  # what that file holds: testpattern or clip:NAME


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
        self.metrics = MetricsLog(config.metrics_path)
        self.source = open_source(config.source)
        self.receiver = FrameReceiver(open_sink(config.sink), self.metrics, decode_log(),
                                      measure_quality=config.measure_quality)
        if config.remote_pattern_loop:
            self.receiver.remote_clock = remote_clock(config.remote_source,
                                                      config.remote_pattern_loop)
        self.session = self._new_session(0)
        self._sent_before: Counter[str] = Counter()  # what closed sessions sent
        self.signaling = SignalingClient(config.signaling_url)
        self.remote_id: str | None = None
        self.remote_frames_sent: int | None = None
        self.offerer = False
        self.restarts = 0
        self.connected = asyncio.Event()
        self.ended = asyncio.Event()
        self.remote_said_bye = asyncio.Event()
        self.end_reason = ""
        self.failed = False
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def pc(self) -> RTCPeerConnection:
        return self.session.pc

    # -- life cycle -------------------------------------------------------------------------

    async def run(self) -> CallResult:
        started = time.time()
        connected_at: float | None = None
        try:
            await self.signaling.connect()
            peers = await self.signaling.join(self.config.room)
            print(f"peer: joined room {self.config.room} as {self.signaling.id} "
                  f"({len(peers)} already there)", file=sys.stderr, flush=True)
            self._spawn(self._read_signaling())
            if peers:
                self.remote_id, self.offerer = peers[0], True
                await self._send_offer()
            await self._wait_connected()
            connected_at = time.time()
            self.metrics.write({"type": "event", "event": "connected", "at": connected_at})
            self._spawn(self._watch_consent())
            if self.config.direction != "recvonly":
                self._spawn(self._log_rate())
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
        # Teardown is bounded: a stuck session must not keep the summary from being written.
        await self.session.close()
        try:
            await asyncio.wait_for(self.receiver.finish(), CLOSE_STEP_TIMEOUT_S)
        except TimeoutError:
            log.warning("teardown step timed out after %g s", CLOSE_STEP_TIMEOUT_S)
        self.source.close()
        for task in self._tasks:
            task.cancel()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.signaling.close(), CLOSE_STEP_TIMEOUT_S)

    def _summary(self, start_s: float, duration_s: float) -> dict[str, Any]:
        dlog = self.receiver.decode_log
        repair = self.receiver.assembler_stats
        clock = self.receiver.remote_clock
        fps = clock.fps if clock is not None else DEFAULT_SOURCE_FPS  # signal delay's grid
        return {
            "type": "summary",
            **summarize(self.receiver.frames, duration_s=duration_s, start_s=start_s, fps=fps,
                        frames_sent=self.remote_frames_sent, keyframes=dlog.keyframes).to_json(),
            "source_fps": fps,
            "received_kbps": round(dlog.received_bytes * 8 / 1000 / duration_s, 3),
            "start_s": round(start_s, 6),
            "duration_s": round(duration_s, 3),
            "frames_dropped": self.receiver.dropped,
            "frames_unstamped": self.receiver.unstamped,
            "decode_errors": dlog.decode_errors,
            "controller": self.config.controller,
            "sent": self._sender_summary(),
            "frames_abandoned": repair.frames_abandoned,
            "packets_missing": repair.packets_missing,
            "packets_recovered": repair.packets_recovered,
            "keyframe_requests": repair.keyframe_requests,
            "nack_retries": repair.nack_retries,
            "restarts": self.restarts,
            "ended": self.end_reason,
            "ok": not self.failed,
        }

    def _sent_total(self) -> Counter[str]:
        total = Counter(self._sent_before)
        total.update(self.session.sent_stats())  # update, unlike +, keeps the zero counts
        return total

    def _frames_sent(self) -> int:
        if self.session.controller is not None:
            return self._sent_total()["frames_encoded"]
        return self.source.frames_captured

    def _sender_summary(self) -> dict[str, Any]:
        """What this side sent (the other side's summary measures how it arrived)."""
        sent: dict[str, Any] = {"frames_captured": self.source.frames_captured,
                                **self._sent_total()}
        if self.session.controller is not None:
            sent["target_kbps_final"] = round(self.session.controller.target_bps() / 1000, 1)
        return sent

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _event(self, event: str, **fields: Any) -> None:
        self.metrics.write({"type": "event", "event": event, "at": time.time(), **fields})

    async def _log_rate(self) -> None:
        """Bytes sent so far and the controller's target, a few times a second."""
        while True:
            controller = self.session.controller
            line: dict[str, Any] = {"type": "rate", "at": time.time(),
                                    "bytes_sent": self._sent_total()["bytes_sent"],
                                    "session": self.session.number}
            if controller is not None:
                line["target_kbps"] = round(controller.target_bps() / 1000, 1)
            self.metrics.write(line)
            await asyncio.sleep(RATE_LOG_INTERVAL_S)

    # -- WebRTC sessions --------------------------------------------------------------------

    def _new_session(self, number: int) -> MediaSession:
        config = self.config
        session = MediaSession(number, controller=config.controller,
                               direction=config.direction, source=self.source,
                               receiver=self.receiver, ice_server=config.ice_server,
                               ice_user=config.ice_user, relay_only=config.relay_only,
                               nack=config.nack)

        @session.pc.on("track")
        def on_track(track: Any) -> None:
            if track.kind == "video":
                self._spawn(self.receiver.consume(track))

        @session.pc.on("connectionstatechange")
        async def on_state() -> None:
            state = session.state
            log.info("session %d: connection state %s", session.number, state)
            if session is not self.session:
                return
            self._event("connection-state", state=state, session=session.number)
            if state == "connected":
                self.connected.set()
            elif state in ("failed", "closed"):  # aioice's consent expiry closes it
                self._connection_lost(session, f"connection {state} (ICE or DTLS)")

        return session

    async def _replace_session(self) -> MediaSession:
        old = self.session
        old.lost = True
        self._sent_before.update(old.sent_stats())
        await old.close()  # first: the old sender must stop pulling frames from the source
        self.session = self._new_session(old.number + 1)
        return self.session

    async def _watch_consent(self) -> None:
        """RFC 7675: a path that has been silent for CONSENT_TIMEOUT_S is dead."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(CONSENT_POLL_S)
            session = self.session
            silent_s = session.congestion.silent_ms(loop.time() * 1000.0) / 1000.0
            if session.state == "connected" and silent_s >= CONSENT_TIMEOUT_S:
                self._connection_lost(session, f"consent expired: nothing heard for "
                                               f"{silent_s:.0f} s")

    def _connection_lost(self, session: MediaSession, reason: str) -> None:
        if session is not self.session or session.lost or self.ended.is_set():
            return
        session.lost = True
        if not self.connected.is_set():
            self._end(reason, failed=True)
            return
        log.warning("session %d lost: %s", session.number, reason)
        self._event("connection-lost", reason=reason, session=session.number)
        self._spawn(self._restart() if self.offerer else self._await_restart(session))

    async def _restart(self) -> None:
        """Offer new sessions until one connects; each attempt has fresh ICE credentials."""
        give_up_at = time.monotonic() + RESTART_GIVE_UP_S
        while not self.ended.is_set() and time.monotonic() < give_up_at:
            session = await self._replace_session()
            self._event("restart-offered", session=session.number)
            try:
                await self._send_offer()
            except (SignalingError, ConnectionError, RuntimeError) as exc:
                log.warning("could not offer a restart: %s", exc)
            if await self._session_connects(session, RESTART_ATTEMPT_S):
                self.restarts += 1
                self._event("restarted", session=session.number)
                return
        self._end(f"connection lost; no new session within {RESTART_GIVE_UP_S:g} s")

    async def _await_restart(self, lost: MediaSession) -> None:
        """The answerer waits for the offerer's new session (see _on_offer)."""
        deadline = time.monotonic() + RESTART_GIVE_UP_S
        while time.monotonic() < deadline and not self.ended.is_set():
            if self.session is not lost and self.session.state == "connected":
                return
            await asyncio.sleep(0.2)
        self._end(f"connection lost; no new session within {RESTART_GIVE_UP_S:g} s")

    async def _session_connects(self, session: MediaSession, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not self.ended.is_set():
            if session.state == "connected":
                return True
            await asyncio.sleep(0.05)
        return False

    async def _send_offer(self) -> None:
        pc = self.pc
        await pc.setLocalDescription(await pc.createOffer())
        await self._send_description(pc)

    async def _send_description(self, pc: RTCPeerConnection) -> None:
        description = pc.localDescription
        message: dict[str, Any] = {"type": description.type, "sdp": description.sdp,
                                   "to": self.remote_id, "session": self.session.number}
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
            self._event("signaling-reconnected")
            return True
        return False

    async def _on_message(self, message: dict[str, Any]) -> None:
        kind, sender = message.get("type"), message.get("from")
        if kind == "offer":
            await self._on_offer(message)
        elif kind == "answer":
            session = message.get("session")
            if isinstance(session, int) and session != self.session.number:
                return  # for an attempt already given up
            await self._take_description(message)
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

    async def _on_offer(self, message: dict[str, Any]) -> None:
        """The first offer starts the call; a later one restarts it on a new session."""
        self.remote_id = message.get("from")
        if self.pc.remoteDescription is not None:
            session = await self._replace_session()
            self._event("restart-answered", session=session.number)
            self._spawn(self._count_restart(session))
        await self._take_description(message)
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        await self._send_description(self.pc)

    async def _count_restart(self, session: MediaSession) -> None:
        if await self._session_connects(session, RESTART_GIVE_UP_S):
            self.restarts += 1
            self._event("restarted", session=session.number)

    async def _take_description(self, message: dict[str, Any]) -> None:
        announced = SourceClock.from_json(message.get("source"))
        self.receiver.remote_clock = announced or self.receiver.remote_clock
        await self.pc.setRemoteDescription(RTCSessionDescription(message["sdp"],
                                                                 message["type"]))

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
