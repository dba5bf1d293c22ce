"""One call: join a room, negotiate with the other member, send and receive video, measure.

Roles follow the room: the first member waits, the second makes the offer. Each side puts its
source clock (`SourceClock`) in its offer or answer, so the other side can turn stamps into
capture times. The call lasts `duration_s` from the moment media can flow, or until the other
side says bye or leaves; either way the metrics end with a summary.

When the path dies mid-call the offerer starts a new session (`peer.session`) over
signaling and the answerer accepts it; `peer.restart_policy` says when (consent, attempts,
giving up). The sender logs its rate every `RATE_LOG_INTERVAL_S`, so outages and recoveries
can be measured from the metrics, with what the controller says its rate comes from (`state`:
GCC's delay-based and loss-based estimates, detector, probe ramp; for `ours` also the share and
the link rate), so a real call's branch can be told from its simulation's.

`Call` is the asyncio adapter: what to say over signaling is `peer.call_signaling`'s, when to
restart `peer.restart_policy`'s (both sans-I/O), the summary `peer.call_summary`'s. It keeps
one timer for the policy (`loop.call_at`), reads one clock (`peer.clock`: loop time, mapped to
wall time once for the metrics), and owns every per-call object the aiortc hooks fill.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.sdp import candidate_from_sdp

from peer import call_signaling as sig
from peer import restart_policy as rp
from peer.aiortc_glue import (
    DecodeLog,
    HostCandidates,
    ReceiveGuardStats,
    set_remote_description,
)
from peer.audio_receiver import AudioReceiver
from peer.audio_sinks import open_audio_sink
from peer.audio_sources import open_audio_source
from peer.audio_tone import PacedAudioTrack
from peer.call_signaling import CallSignaling
from peer.call_summary import CallEnd, SentTotals, call_summary
from peer.clock import Clock
from peer.metrics import MetricsLog
from peer.playout_delay import PlayoutDelayConfig
from peer.receiver import FrameReceiver
from peer.restart_policy import RestartConfig, RestartPolicy
from peer.session import CLOSE_STEP_TIMEOUT_S, CallParts, MediaSession
from peer.sink import open_sink
from peer.source import SourceClock
from peer.sources import open_source, remote_clock
from ratecontrol.controllers import DEFAULT_CONTROLLER
from ratecontrol.types import ExplainsRate
from signaling.client import SignalingClient, SignalingError

log = logging.getLogger("peer.call")
BYE_WAIT_S = 1.0
SIGNALING_RETRY_FIRST_S = 0.5
SIGNALING_RETRY_MAX_S = 4.0
RATE_LOG_INTERVAL_S = 0.25


@dataclass(frozen=True)
class CallConfig:
    signaling_url: str
    room: str
    controller: str = DEFAULT_CONTROLLER  # "aiortc": stock aiortc encoder and REMB
    direction: str = "sendrecv"  # or sendonly / recvonly: one-way calls for experiments
    source: str = "testpattern"  # see peer.sources.open_source
    sink: str = "null"  # see peer.sink.open_sink
    audio: str = "tone"  # tone, mic, FILE or none: see peer.audio_sources
    audio_sink: str = "null"  # null, speaker or FILE.wav: see peer.audio_sinks
    duration_s: float = 10.0
    metrics_path: Path | None = None
    ice_server: str | None = None
    ice_user: str | None = None
    relay_only: bool = False
    host_candidates: HostCandidates = HostCandidates.AUTO
    connect_timeout_s: float = 30.0
    measure_quality: bool = True
    nack: bool = True  # False: ask for no retransmission, only keyframes (PLI) repair loss
    # What our video asks of the receiver's playout (default: render at once, min = max = 0).
    playout_delay: PlayoutDelayConfig = field(default_factory=PlayoutDelayConfig)
    # The other side sends the exported test pattern (peer.y4m) looping every N frames, as a
    # browser fed it by --use-file-for-fake-video-capture does, without announcing it.
    remote_pattern_loop: int | None = None
    remote_source: str = "testpattern"  # what that file holds: testpattern or clip:NAME
    restart: RestartConfig = field(default_factory=RestartConfig)  # see peer.restart_policy


@dataclass
class CallResult:
    ok: bool
    reason: str
    summary: dict[str, Any]


class CallFailed(Exception):
    pass


class Call:
    def __init__(self, config: CallConfig, clock: Clock | None = None) -> None:
        self.config = config
        self.clock = clock or Clock()
        self.metrics = MetricsLog(config.metrics_path)
        self.source = open_source(config.source, self.clock)
        # Filled by this call's hooks only: another call in the process has its own.
        self.decode_log = DecodeLog()
        self.guard = ReceiveGuardStats()
        self.receiver = FrameReceiver(open_sink(config.sink), self.metrics, self.decode_log,
                                      measure_quality=config.measure_quality,
                                      wall_clock=self.clock.wall_s)
        if config.remote_pattern_loop:
            self.receiver.remote_clock = remote_clock(config.remote_source,
                                                      config.remote_pattern_loop)
        # The tone's timeline starts at the video's t0, which the other side already gets.
        video_clock = self.source.clock
        self.audio_track = open_audio_source(
            config.audio, video_clock.t0 if video_clock is not None else None, self.clock.wall_s)
        self.audio = AudioReceiver(
            open_audio_sink(config.audio_sink), self.metrics, self.clock.wall_s,
            lambda: self.receiver.remote_clock.t0 if self.receiver.remote_clock else None,
            self.receiver.frames)
        self.parts = CallParts(self.clock, self.source, self.receiver, self.decode_log,
                               self.guard, config.host_candidates, self.audio_track)
        self.talk = CallSignaling()
        self.policy = RestartPolicy(config.restart)
        self.sent = SentTotals()
        self.session = self._new_session(0)
        self.signaling = SignalingClient(config.signaling_url)
        self.connected = asyncio.Event()
        self.ended = asyncio.Event()
        self.remote_said_bye = asyncio.Event()
        self.end_reason = ""
        self.failed = False
        self.connected_at_s: float | None = None  # loop time
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def pc(self) -> RTCPeerConnection:
        return self.session.pc

    @property
    def restarts(self) -> int:
        return self.policy.restarts

    # -- life cycle -------------------------------------------------------------------------

    async def run(self) -> CallResult:
        started_s = self.clock.now_s()
        try:
            await self.signaling.connect()
            peers = await self.signaling.join(self.config.room)
            print(f"peer: joined room {self.config.room} as {self.signaling.id} "
                  f"({len(peers)} already there)", file=sys.stderr, flush=True)
            self._spawn(self._read_signaling())
            actions = self.talk.joined(peers)
            self.policy.offerer = self.talk.offerer
            await self._carry_out(actions)
            await self._wait_connected()
            if self.config.direction != "recvonly":
                self._spawn(self._log_rate())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.ended.wait(), self.config.duration_s)
            if not self.ended.is_set():
                self._end("duration reached")
        except (SignalingError, CallFailed) as exc:
            self._end(str(exc), failed=True)
        finally:
            await self.hang_up()
        start_s = self.connected_at_s if self.connected_at_s is not None else started_s
        end = CallEnd(self.end_reason, not self.failed, self.restarts, self.config.controller,
                      start_s=self.clock.wall_s(start_s),
                      duration_s=max(self.clock.now_s() - start_s, 1e-3))
        summary = call_summary(self.receiver, self.decode_log, self._sender_summary(), end,
                               self.talk.remote_frames_sent, self.audio)
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
            self.policy.end()
            self._arm_timer()

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

    async def hang_up(self) -> None:
        """Say bye, close the session, the receiver, the source and signaling, each bounded:
        a stuck session must not keep the summary from being written."""
        self.policy.end()
        self._arm_timer()
        bye = self.talk.bye(self._frames_sent())
        if bye is not None:
            with contextlib.suppress(SignalingError, ConnectionError, RuntimeError):
                await self.signaling.send(bye)
            # The other side's bye carries how many frames it sent: worth a moment's wait.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.remote_said_bye.wait(), BYE_WAIT_S)
        await self.session.close()
        try:
            await asyncio.wait_for(self.receiver.finish(), CLOSE_STEP_TIMEOUT_S)
        except TimeoutError:
            log.warning("teardown step timed out after %g s", CLOSE_STEP_TIMEOUT_S)
        self.source.close()
        if self.audio_track is not None:
            self.audio_track.stop()
        self.audio.close()
        for task in self._tasks:
            task.cancel()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.signaling.close(), CLOSE_STEP_TIMEOUT_S)

    def _sent_total(self) -> dict[str, int]:
        return dict(self.sent.total(self.session.sent_stats()))

    def _frames_sent(self) -> int:
        if self.session.controller is not None:
            return self._sent_total()["frames_encoded"]
        return self.source.frames_captured

    def _sender_summary(self) -> dict[str, Any]:
        """What this side sent (the other side's summary measures how it arrived)."""
        sent: dict[str, Any] = {"frames_captured": self.source.frames_captured,
                                **self._sent_total()}
        if isinstance(self.audio_track, PacedAudioTrack):  # a mic's frames are not counted
            sent["audio_frames_sent"] = self.audio_track.frames_sent
        if self.session.controller is not None:
            sent["target_kbps_final"] = round(self.session.controller.target_bps() / 1000, 1)
        return sent

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _event(self, event: str, **fields: Any) -> None:
        self.metrics.write({"type": "event", "event": event, "at": self.clock.wall_s(),
                            **fields})

    async def _log_rate(self) -> None:
        """Bytes sent so far and the controller's target and state, a few times a second."""
        while True:
            controller = self.session.controller
            line: dict[str, Any] = {"type": "rate", "at": self.clock.wall_s(),
                                    "bytes_sent": self._sent_total()["bytes_sent"],
                                    "session": self.session.number}
            if controller is not None:
                line["target_kbps"] = round(controller.target_bps() / 1000, 1)
            if isinstance(controller, ExplainsRate):
                line["state"] = controller.state()
            self.metrics.write(line)
            await asyncio.sleep(RATE_LOG_INTERVAL_S)

    # -- the restart policy: one timer, and what it decides ---------------------------------

    def _arm_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        when = self.policy.get_timer()
        if when is not None:
            self._timer = asyncio.get_running_loop().call_at(when, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        now_s = self.clock.now_s()
        silent_s = self.session.congestion.silent_ms(now_s * 1000.0) / 1000.0
        self._decided(self.policy.handle_timer(now_s, silent_s))

    def _decided(self, actions: list[rp.Action]) -> None:
        """Carry out what the policy decided; re-arm its timer."""
        for action in actions:
            if isinstance(action, rp.Connected):
                self.connected_at_s = self.clock.now_s()
                self.talk.on_connected()
                self._event("connected")
                self.connected.set()
            elif isinstance(action, rp.PathLost):
                log.warning("session %d lost: %s", action.session, action.reason)
                self._event("connection-lost", reason=action.reason, session=action.session)
            elif isinstance(action, rp.NewSession) and action.offer:
                self._spawn(self._offer_session(action.number))
            elif isinstance(action, rp.Restarted):
                self._event("restarted", session=action.session)
            elif isinstance(action, rp.GiveUp):
                self._end(action.reason, failed=action.failed)
        self._arm_timer()

    async def _offer_session(self, number: int) -> None:
        await self._replace_session(number)
        self._event("restart-offered", session=number)
        try:
            await self._send_offer()
        except (SignalingError, ConnectionError, RuntimeError) as exc:
            log.warning("could not offer a restart: %s", exc)
        self.policy.offered(number, self.clock.now_s())
        self._arm_timer()

    # -- WebRTC sessions --------------------------------------------------------------------

    def _new_session(self, number: int) -> MediaSession:
        config = self.config
        session = MediaSession(number, self.parts, controller=config.controller,
                               direction=config.direction, ice_server=config.ice_server,
                               ice_user=config.ice_user, relay_only=config.relay_only,
                               nack=config.nack, playout_delay=config.playout_delay)

        @session.pc.on("track")
        def on_track(track: Any) -> None:
            if track.kind == "video":
                self._spawn(self.receiver.consume(track))
            elif track.kind == "audio":
                self._spawn(self.audio.consume(track))

        @session.pc.on("connectionstatechange")
        async def on_state() -> None:
            state = session.state
            log.info("session %d: connection state %s", session.number, state)
            if session is self.session:
                self._event("connection-state", state=state, session=session.number)
            self._decided(self.policy.session_state(session.number, state, self.clock.now_s()))

        return session

    async def _replace_session(self, number: int) -> MediaSession:
        old = self.session
        old.lost = True
        self.sent.close_session(old.sent_stats())
        await old.close()  # first: the old sender must stop pulling frames from the source
        self.session = self._new_session(number)
        return self.session

    async def _send_offer(self) -> None:
        pc = self.pc
        await pc.setLocalDescription(await pc.createOffer())
        await self._send_description(pc)

    async def _send_description(self, pc: RTCPeerConnection) -> None:
        description = pc.localDescription
        clock = self.source.clock
        await self.signaling.send(self.talk.description(
            description.type, description.sdp, self.session.number,
            clock.to_json() if clock is not None else None))

    # -- signaling --------------------------------------------------------------------------

    async def _read_signaling(self) -> None:
        while True:
            message = await self.signaling.receive()
            actions = self.talk.closed() if message is None else self.talk.receive(message)
            if self.talk.remote_gone:
                self.remote_said_bye.set()
            if any(isinstance(a, sig.Rejoin) for a in actions):
                if not await self._rejoin_signaling():
                    return
                continue
            try:
                await self._carry_out(actions)
            except (ValueError, TypeError, KeyError) as exc:
                log.warning("ignored a malformed %r message: %s",
                            message.get("type") if message else None, exc)
            if message is None:
                return

    async def _carry_out(self, actions: list[sig.Action]) -> None:
        for action in actions:
            if isinstance(action, sig.SendOffer):
                await self._send_offer()
            elif isinstance(action, sig.AcceptOffer):
                await self._accept_offer(action)
            elif isinstance(action, sig.TakeAnswer):
                if self.policy.answer_is_current(action.session):
                    await self._take_description(action.sdp, "answer", action.source)
            elif isinstance(action, sig.AddCandidate):
                await self._add_candidate(action.candidate)
            elif isinstance(action, sig.EndCall):
                self._end(action.reason, failed=action.failed)
            elif isinstance(action, sig.Warn):
                log.warning("%s", action.text)

    async def _accept_offer(self, offer: sig.AcceptOffer) -> None:
        """The first offer starts the call; a later one restarts it on a new session."""
        if offer.restart:
            for action in self.policy.offer_received(self.clock.now_s(), offer.session):
                if isinstance(action, rp.NewSession):
                    await self._replace_session(action.number)
                    self._event("restart-answered", session=action.number)
            self._arm_timer()
        await self._take_description(offer.sdp, "offer", offer.source)
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        await self._send_description(self.pc)

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
            self.talk.rejoined(peers)
            print(f"peer: reconnected to signaling as {client.id}", file=sys.stderr, flush=True)
            self._event("signaling-reconnected")
            return True
        return False

    async def _take_description(self, sdp: str, kind: str, source: Any) -> None:
        announced = SourceClock.from_json(source)
        self.receiver.remote_clock = announced or self.receiver.remote_clock
        await set_remote_description(self.pc, RTCSessionDescription(sdp, kind))

    async def _add_candidate(self, data: dict[str, Any] | None) -> None:
        """A trickled candidate in the browser's RTCIceCandidate.toJSON() shape."""
        if data is None:
            await self.pc.addIceCandidate(None)  # end of candidates
            return
        candidate = candidate_from_sdp(data["candidate"].removeprefix("candidate:"))
        candidate.sdpMid = data.get("sdpMid")
        candidate.sdpMLineIndex = data.get("sdpMLineIndex")
        await self.pc.addIceCandidate(candidate)


async def run_call(config: CallConfig) -> CallResult:
    call = Call(config, Clock())  # the process's one clock
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, call.stop, f"stopped by {signal.Signals(signum).name}")
    try:
        return await call.run()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
