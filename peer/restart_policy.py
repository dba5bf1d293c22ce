"""When a call's path counts as dead, when to offer a new session, when to give up. No I/O.

A path is dead when its connection fails or closes (aioice's own consent checks close it),
or when nothing authenticated has been heard on it for `consent_timeout_s` (RFC 7675 §5.1:
consent expires 30 s after it was last confirmed). Before the first connection either ends
the call. After it, the offerer opens a new session at once and, while none connects, a
fresh one `attempt_s` after each offer went out (ICE checks back off, 0.5, 1, 2 s ...: a
fresh attempt with new credentials is quicker); the answerer takes whatever the offerer
offers. Either gives up `give_up_s` after the loss. Sessions are numbered: only the current
one's state counts, and an answer for an older one is stale.

Feed it: `session_state` (connection state changes), `offered` (an offer went out),
`offer_received` (the other side offered a new session), and `handle_timer` at `get_timer()`
with how long the current path has been silent. Times are seconds on the caller's clock.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


@dataclass(frozen=True)
class RestartConfig:
    consent_timeout_s: float = 30.0  # RFC 7675 §5.1
    consent_poll_s: float = 0.5  # how often the silence of a connected path is looked at
    attempt_s: float = 3.0  # an offer not connected this long after it went out: a new one
    give_up_s: float = 60.0  # after the loss, no session connected this long: the call ends

    def __post_init__(self) -> None:
        values = (self.consent_timeout_s, self.consent_poll_s, self.attempt_s, self.give_up_s)
        if not all(v > 0 for v in values):
            raise ValueError("restart timings must be > 0 s; check RestartConfig")


class Phase(enum.Enum):
    CONNECTING = "connecting"  # before the first connection
    CONNECTED = "connected"
    RESTARTING = "restarting"  # offerer: offering new sessions
    AWAITING = "awaiting"  # answerer: waiting for the offerer's new session
    ENDED = "ended"


@dataclass(frozen=True)
class Connected:
    session: int


@dataclass(frozen=True)
class PathLost:
    session: int
    reason: str


@dataclass(frozen=True)
class NewSession:
    """Replace the current session by session `number`; make an offer on it if `offer`."""

    number: int
    offer: bool


@dataclass(frozen=True)
class Restarted:
    session: int


@dataclass(frozen=True)
class GiveUp:
    reason: str
    failed: bool


Action = Connected | PathLost | NewSession | Restarted | GiveUp


class RestartPolicy:
    def __init__(self, config: RestartConfig | None = None) -> None:
        self.config = config or RestartConfig()
        self.offerer = False  # set once the room tells the role
        self.phase = Phase.CONNECTING
        self.session = 0
        self.restarts = 0
        self._next_consent_s: float | None = None
        self._next_offer_s: float | None = None
        self._give_up_s: float | None = None

    def answer_is_current(self, session: int | None) -> bool:
        """An answer naming an older session is for an attempt already given up."""
        return session is None or session == self.session

    def get_timer(self) -> float | None:
        if self.phase is Phase.CONNECTED:
            return self._next_consent_s
        if self.phase is Phase.RESTARTING:
            times = [t for t in (self._next_offer_s, self._give_up_s) if t is not None]
            return min(times) if times else None
        if self.phase is Phase.AWAITING:
            return self._give_up_s
        return None

    def end(self) -> None:
        """The call ended for another reason: nothing more to do."""
        self.phase = Phase.ENDED

    def session_state(self, session: int, state: str, now_s: float) -> list[Action]:
        if session != self.session or self.phase is Phase.ENDED:
            return []
        if state == "connected":
            if self.phase is Phase.CONNECTED:
                return []
            first = self.phase is Phase.CONNECTING
            self.phase = Phase.CONNECTED
            self._next_consent_s = now_s + self.config.consent_poll_s
            self._next_offer_s = self._give_up_s = None
            if first:
                return [Connected(session)]
            self.restarts += 1
            return [Restarted(session)]
        if state in ("failed", "closed"):
            return self._lost(f"connection {state} (ICE or DTLS)", now_s)
        return []

    def offered(self, session: int, now_s: float) -> None:
        """The offer for `session` went out (or could not): the attempt's time starts."""
        if session == self.session and self.phase is Phase.RESTARTING:
            self._next_offer_s = now_s + self.config.attempt_s

    def offer_received(self, now_s: float, session: int | None = None) -> list[Action]:
        """The other side offered a new session (a restart), numbered `session` by it: take
        it under that number (so that our answer names what it answers), and keep waiting for
        it to connect at most `give_up_s` from the loss (or from now, if we had not noticed
        the loss)."""
        if self.phase is Phase.ENDED:
            return []
        newer = session is not None and session > self.session
        self.session = session if newer and session is not None else self.session + 1
        if self.phase is not Phase.AWAITING:
            self.phase = Phase.AWAITING
            self._give_up_s = now_s + self.config.give_up_s
        return [NewSession(self.session, offer=False)]

    def handle_timer(self, now_s: float, silent_s: float) -> list[Action]:
        """Time passed; `silent_s`: how long the current path has been silent."""
        if self.phase is Phase.CONNECTED:
            if self._next_consent_s is None or now_s < self._next_consent_s:
                return []
            self._next_consent_s = now_s + self.config.consent_poll_s
            if silent_s >= self.config.consent_timeout_s:
                return self._lost(f"consent expired: nothing heard for {silent_s:.0f} s", now_s)
            return []
        if self.phase in (Phase.RESTARTING, Phase.AWAITING):
            if self._give_up_s is not None and now_s >= self._give_up_s:
                self.phase = Phase.ENDED
                return [GiveUp(f"connection lost; no new session within "
                               f"{self.config.give_up_s:g} s", failed=False)]
            if self._next_offer_s is not None and now_s >= self._next_offer_s:
                return [self._offer_new_session()]
        return []

    def _lost(self, reason: str, now_s: float) -> list[Action]:
        if self.phase is Phase.CONNECTING:
            self.phase = Phase.ENDED
            return [GiveUp(reason, failed=True)]
        if self.phase is not Phase.CONNECTED:
            return []  # an attempt failing early: the next one is due anyway
        lost = PathLost(self.session, reason)
        self._give_up_s = now_s + self.config.give_up_s
        if not self.offerer:
            self.phase = Phase.AWAITING
            return [lost]
        self.phase = Phase.RESTARTING
        return [lost, self._offer_new_session()]

    def _offer_new_session(self) -> NewSession:
        self.session += 1
        self._next_offer_s = None  # until `offered` says the offer went out
        return NewSession(self.session, offer=True)
