"""The restart policy in virtual time: consent, attempts, giving up, stale sessions."""

from __future__ import annotations

import itertools

import pytest

from peer.restart_policy import (
    Connected,
    GiveUp,
    NewSession,
    PathLost,
    Phase,
    RestartConfig,
    Restarted,
    RestartPolicy,
)


def connected(offerer: bool, at_s: float = 0.0) -> RestartPolicy:
    policy = RestartPolicy()
    policy.offerer = offerer
    assert policy.session_state(0, "connected", at_s) == [Connected(0)]
    return policy


def run_until(policy: RestartPolicy, end_s: float, silent_from_s: float | None = None,
              offer_delay_s: float = 0.0) -> list[tuple[float, object]]:
    """Drive the policy's timer as the adapter does, in virtual time; offers go out
    `offer_delay_s` after they are asked for. Returns (time, action) in order."""
    seen: list[tuple[float, object]] = []
    pending_offer: tuple[float, int] | None = None
    now_s = 0.0
    while True:
        timer = policy.get_timer()
        candidates = [t for t in (timer, pending_offer and pending_offer[0]) if t is not None]
        if not candidates or min(candidates) > end_s:
            return seen
        now_s = max(now_s, min(candidates))
        if pending_offer is not None and pending_offer[0] <= now_s:
            policy.offered(pending_offer[1], now_s)
            pending_offer = None
            continue
        silent_s = 0.0 if silent_from_s is None else max(now_s - silent_from_s, 0.0)
        for action in policy.handle_timer(now_s, silent_s):
            seen.append((now_s, action))
            if isinstance(action, NewSession) and action.offer:
                pending_offer = (now_s + offer_delay_s, action.number)


def test_a_connected_path_is_polled_and_lives_while_heard() -> None:
    policy = connected(offerer=True)
    assert policy.get_timer() == pytest.approx(0.5)
    assert run_until(policy, 600.0, silent_from_s=None) == []
    assert policy.phase is Phase.CONNECTED


def test_consent_expires_after_30_s_of_silence_and_the_offerer_offers_every_3_s() -> None:
    policy = connected(offerer=True)
    seen = run_until(policy, 200.0, silent_from_s=10.0)
    lost_at, lost = seen[0]
    assert isinstance(lost, PathLost) and lost.session == 0 and "consent" in lost.reason
    assert lost_at == pytest.approx(40.0)  # 30 s after the last thing heard, at a 0.5 s poll
    offers = [(t, a) for t, a in seen if isinstance(a, NewSession)]
    assert [a.number for _, a in offers] == list(range(1, 21))
    assert all(a.offer for _, a in offers)
    times = [t for t, _ in offers]
    assert times[0] == pytest.approx(40.0)  # the first at once
    assert all(b - a == pytest.approx(3.0) for a, b in itertools.pairwise(times))
    end_at, end = seen[-1]
    assert isinstance(end, GiveUp) and not end.failed and "60 s" in end.reason
    assert end_at == pytest.approx(100.0)
    assert policy.phase is Phase.ENDED and policy.get_timer() is None


def test_an_attempt_counts_from_when_its_offer_went_out() -> None:
    policy = connected(offerer=True)
    seen = run_until(policy, 55.0, silent_from_s=0.0, offer_delay_s=1.0)
    times = [t for t, a in seen if isinstance(a, NewSession)]
    assert times[:3] == pytest.approx([30.0, 34.0, 38.0])  # 1 s to offer + 3 s to connect


def test_a_restart_that_connects_is_counted_and_late_news_of_others_ignored() -> None:
    policy = connected(offerer=True)
    lost = policy.session_state(0, "failed", 5.0)
    assert lost == [PathLost(0, "connection failed (ICE or DTLS)"), NewSession(1, True)]
    policy.offered(1, 5.2)
    assert policy.handle_timer(8.2, 0.0) == [NewSession(2, True)]
    policy.offered(2, 8.3)
    assert policy.session_state(1, "connected", 8.5) == []  # given up on: not ours now
    assert not policy.answer_is_current(1) and policy.answer_is_current(2)
    assert policy.answer_is_current(None)
    assert policy.session_state(2, "connected", 9.0) == [Restarted(2)]
    assert policy.restarts == 1 and policy.phase is Phase.CONNECTED
    assert policy.session_state(0, "closed", 9.5) == []  # the old session closing


def test_the_answerer_waits_for_the_offerers_new_session_then_gives_up() -> None:
    policy = connected(offerer=False)
    assert policy.session_state(0, "closed", 10.0) == [
        PathLost(0, "connection closed (ICE or DTLS)")]
    assert policy.phase is Phase.AWAITING and policy.get_timer() == pytest.approx(70.0)
    assert policy.offer_received(20.0) == [NewSession(1, offer=False)]
    assert policy.session_state(1, "failed", 21.0) == []  # the offerer will try again
    assert policy.offer_received(23.0) == [NewSession(2, offer=False)]
    assert policy.get_timer() == pytest.approx(70.0)  # still counted from the loss
    assert policy.handle_timer(70.0, 0.0) == [
        GiveUp("connection lost; no new session within 60 s", failed=False)]


def test_the_answerer_numbers_a_new_session_as_the_offerer_did() -> None:
    policy = connected(offerer=False)
    assert policy.offer_received(5.0, session=4) == [NewSession(4, offer=False)]
    assert policy.answer_is_current(4)
    assert policy.offer_received(8.0, session=2) == [NewSession(5, offer=False)]  # not back


def test_the_answerer_takes_a_restart_it_had_not_noticed_the_need_for() -> None:
    policy = connected(offerer=False)
    assert policy.offer_received(5.0) == [NewSession(1, offer=False)]
    assert policy.session_state(1, "connected", 6.0) == [Restarted(1)]
    assert policy.restarts == 1


def test_failing_before_the_first_connection_ends_the_call_as_failed() -> None:
    policy = RestartPolicy()
    policy.offerer = True
    assert policy.session_state(0, "failed", 1.0) == [
        GiveUp("connection failed (ICE or DTLS)", failed=True)]
    assert policy.get_timer() is None


def test_an_ended_call_decides_nothing() -> None:
    policy = connected(offerer=True)
    policy.end()
    assert policy.get_timer() is None
    assert policy.session_state(0, "failed", 1.0) == []
    assert policy.handle_timer(100.0, 100.0) == []
    assert policy.offer_received(1.0) == []


def test_bad_timings_are_refused() -> None:
    with pytest.raises(ValueError, match="restart timings"):
        RestartConfig(attempt_s=0.0)
