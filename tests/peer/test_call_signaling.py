"""The call's signaling state machine: messages in, actions out."""

from __future__ import annotations

from peer.call_signaling import (
    AcceptOffer,
    AddCandidate,
    CallSignaling,
    EndCall,
    Rejoin,
    SendOffer,
    TakeAnswer,
    Warn,
)


def test_the_second_member_offers_and_the_first_waits() -> None:
    first, second = CallSignaling(), CallSignaling()
    assert first.joined([]) == [] and not first.offerer
    assert second.joined(["a"]) == [SendOffer()] and second.offerer
    assert second.description("offer", "v=0", 0, {"fps": 30}) == {
        "type": "offer", "sdp": "v=0", "to": "a", "session": 0, "source": {"fps": 30}}


def test_the_first_offer_starts_the_call_and_later_ones_restart_it() -> None:
    talk = CallSignaling()
    talk.joined([])
    offer = {"type": "offer", "sdp": "v=0", "from": "b", "session": 0, "source": None}
    assert talk.receive(offer) == [AcceptOffer("v=0", None, restart=False, session=0)]
    assert talk.remote_id == "b"
    assert talk.receive({**offer, "session": 1}) == [AcceptOffer("v=0", None, True, 1)]
    assert talk.description("answer", "v=1", 1, None) == {
        "type": "answer", "sdp": "v=1", "to": "b", "session": 1}


def test_answers_carry_their_session() -> None:
    talk = CallSignaling()
    talk.joined(["a"])
    assert talk.receive({"type": "answer", "sdp": "x", "session": 3}) == [
        TakeAnswer("x", None, 3)]
    assert talk.receive({"type": "answer", "sdp": "x", "session": True}) == [
        TakeAnswer("x", None, None)]
    assert isinstance(talk.receive({"type": "answer", "sdp": 5})[0], Warn)


def test_candidates_and_their_end() -> None:
    talk = CallSignaling()
    line = {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host", "sdpMid": "0"}
    assert talk.receive({"type": "candidate", "candidate": line}) == [AddCandidate(line)]
    assert talk.receive({"type": "candidate", "candidate": None}) == [AddCandidate(None)]
    assert talk.receive({"type": "candidate", "candidate": {"candidate": ""}}) == [
        AddCandidate(None)]
    assert isinstance(talk.receive({"type": "candidate", "candidate": 7})[0], Warn)
    assert isinstance(talk.receive({"type": "candidate", "candidate": {"candidate": 7}})[0],
                      Warn)


def test_bye_and_leaving_end_the_call_only_from_the_other_side() -> None:
    talk = CallSignaling()
    talk.joined(["a"])
    assert talk.receive({"type": "bye", "from": "stranger", "frames_sent": 5}) == []
    assert talk.receive({"type": "bye", "from": "a", "frames_sent": 300}) == [
        EndCall("the other side hung up")]
    assert talk.remote_frames_sent == 300 and talk.remote_gone
    other = CallSignaling()
    other.joined(["a"])
    assert other.receive({"type": "peer-left", "id": "z"}) == []
    assert other.receive({"type": "peer-left", "id": "a"}) == [
        EndCall("the other side left the room")]
    assert other.bye(12) == {"type": "bye", "to": "a", "frames_sent": 12}
    assert CallSignaling().bye(1) is None


def test_losing_signaling_ends_an_unconnected_call_and_rejoins_a_connected_one() -> None:
    talk = CallSignaling()
    talk.joined(["a"])
    assert talk.closed() == [
        EndCall("signaling connection closed before the call connected", True)]
    talk.on_connected()
    assert talk.closed() == [Rejoin()]
    assert talk.rejoined(["a2"]) == [] and talk.remote_id == "a2"
    assert talk.receive({"type": "peer-joined", "id": "a3"}) == [] and talk.remote_id == "a3"


def test_peer_joined_before_connection_changes_nothing_and_errors_are_warnings() -> None:
    talk = CallSignaling()
    talk.joined(["a"])
    assert talk.receive({"type": "peer-joined", "id": "x"}) == [] and talk.remote_id == "a"
    assert talk.receive({"type": "error", "code": "room-full", "message": "full"}) == [
        Warn("signaling error room-full: full")]
    assert talk.receive({"type": "something-new"}) == []
