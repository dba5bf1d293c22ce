"""One WebRTC session of a call: an RTCPeerConnection with our parts installed.

The sending track (our encoder steered by a fresh controller, or stock aiortc's encoder), the
congestion control on its transport, and a fresh frame assembler feeding the call's receiver.
A call has one session at a time. When its path dies (consent expired) the call starts a new
one over signaling: new ICE credentials and candidates, and, since aiortc 1.16 cannot restart
ICE inside a connection, a new DTLS handshake too. The source, the receiver and the metrics
belong to the call and carry on, and so do the per-call objects the session's hooks fill
(the decode log, the receive guard's counts) and the call's clock: nothing is shared with
another call in the same process.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection
from aiortc.rtcconfiguration import RTCBundlePolicy, RTCIceTransportPolicy

from peer.aiortc_glue import (
    DecodeLog,
    HostCandidates,
    ReceiveGuardStats,
    assemble_frames_at_once,
    bound_nacks,
    guard_ice_receive,
    hook_audio_receiver,
    hook_transport,
    ice_servers,
    install_process_hooks,
    log_decoding,
    play_audio_at_once,
    prefer_vp8,
    send_playout_delay,
    sender_ssrc,
    stop_nacks,
    take_keyframe_request,
    use_host_candidates,
)
from peer.audio_sources import SessionAudioTrack
from peer.clock import Clock
from peer.congestion import CongestionControl
from peer.encoded_track import ControlledVideoTrack
from peer.playout_delay import PlayoutDelayConfig
from peer.receiver import FrameReceiver
from peer.source import FrameSource, RawVideoTrack
from ratecontrol.controllers import make_controller
from ratecontrol.types import RateController

log = logging.getLogger("peer.session")
CLOSE_STEP_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class CallParts:
    """What every session of one call shares, and no other call does."""

    clock: Clock
    source: FrameSource
    receiver: FrameReceiver
    decode_log: DecodeLog
    guard: ReceiveGuardStats
    host_candidates: HostCandidates = HostCandidates.AUTO
    audio: MediaStreamTrack | None = None  # the sound to send (None: receive only)


class MediaSession:
    def __init__(self, number: int, parts: CallParts, *, controller: str, direction: str,
                 ice_server: str | None, ice_user: str | None, relay_only: bool,
                 nack: bool = True,
                 playout_delay: PlayoutDelayConfig | None = None) -> None:
        install_process_hooks()
        source, receiver, clock = parts.source, parts.receiver, parts.clock
        self.number = number
        self.lost = False  # the call gave up on it (failed, or consent expired)
        # A fresh controller: the old path's estimates say nothing about the new one.
        self.controller: RateController | None = (
            None if controller == "aiortc" else make_controller(controller))
        self.pc = RTCPeerConnection(RTCConfiguration(
            iceServers=ice_servers(ice_server, ice_user),
            iceTransportPolicy=(RTCIceTransportPolicy.RELAY if relay_only
                                else RTCIceTransportPolicy.ALL),
            # One transport from the start: the audio transceiver shares the video one's
            # hooks, so its packets take the same pacer and transport-wide numbers.
            bundlePolicy=RTCBundlePolicy.MAX_BUNDLE,
        ))
        self.track: ControlledVideoTrack | RawVideoTrack
        if self.controller is None:
            self.track = RawVideoTrack(source)
        else:
            self.track = ControlledVideoTrack(
                source, self.controller, lambda: take_keyframe_request(transceiver.sender))
        transceiver = self.pc.addTransceiver(self.track, direction=direction)
        prefer_vp8(transceiver)
        use_host_candidates(transceiver, parts.host_candidates)
        guard_ice_receive(transceiver, parts.guard)
        log_decoding(transceiver.receiver, parts.decode_log)
        assemble_frames_at_once(transceiver.receiver, receiver.new_assembler(), clock.now_ms,
                                receiver.on_keyframe_request)
        if nack:
            bound_nacks(transceiver.receiver)
        else:
            stop_nacks(transceiver.receiver)
        self.congestion = CongestionControl(self.controller, sender_ssrc(transceiver.sender))
        access = hook_transport(transceiver, self.congestion, parts.guard, clock.now_ms)
        send_playout_delay(self.pc, transceiver, access, playout_delay or PlayoutDelayConfig())
        self.congestion.start(access)
        # Added after the video (first m-line: its transport is the bundle's), receiving
        # even when sending nothing, so that the other side's sound is counted in our
        # transport-cc feedback rather than left to an unhooked receiver aiortc would make.
        audio = self.pc.addTransceiver(
            SessionAudioTrack(parts.audio) if parts.audio else "audio",
            direction="sendrecv" if parts.audio else "recvonly")
        self.congestion.audio_ssrcs.add(sender_ssrc(audio.sender))
        hook_audio_receiver(audio, self.congestion, parts.guard, clock.now_ms)
        play_audio_at_once(audio.receiver)  # no playout buffer for sound either

    @property
    def state(self) -> str:
        return str(self.pc.connectionState)

    def sent_stats(self) -> dict[str, int]:
        """What this session sent: encoder and transport counters."""
        stats: dict[str, int] = {}
        if isinstance(self.track, ControlledVideoTrack):
            stats.update(vars(self.track.stats))
        stats.update(vars(self.congestion.stats))
        return stats

    async def close(self) -> None:
        """Close the connection and stop congestion control, each step bounded: a transport
        stuck half-way (ICE still checking, an RTCP task that died) must not hold the call."""
        for step in (self.pc.close(), self.congestion.stop()):
            try:
                await asyncio.wait_for(step, CLOSE_STEP_TIMEOUT_S)
            except TimeoutError:
                log.warning("session %d: close step timed out after %g s", self.number,
                            CLOSE_STEP_TIMEOUT_S)
