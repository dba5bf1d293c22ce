"""Real-time calls over an emulated link, one controller at a time.

For each call: netem (the TURN relay applying the trace), the signaling server, a receiving
Python peer that joins first and waits, then the sender (a Python peer with the controller, or
headless Chromium for `chrome`), which offers. Both use only relayed candidates, so every
packet crosses the emulated link. Each side has its own TURN user, and netem puts what the
sender's user sends on `--up` (`--up-user`), whatever the order in which the two allocate
(aiortc and Chromium differ, and Chromium may allocate more than once): media crosses the
media trace, feedback the other one. The result says which trace file the media did cross
and its capacity over the call (`media_trace`, `media_capacity_kbps`, from netem's log).

Each call leaves in its folder: receiver.jsonl (per frame and summary), sender.jsonl (Python
senders), netem.jsonl (per packet), *.log (each process's stderr) and result.json.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from experiments.jsonl import read_jsonl
from experiments.link_spec import LinkSpec, trace_files
from experiments.local_call import read_summary
from experiments.netem_log import MEDIA_DIRECTION, media_link
from experiments.oracle_real import completed_summary
from experiments.processes import (
    Service,
    ServiceError,
    child_env,
    python_command,
    running,
    start_service,
    start_signaling,
    stop_process,
)

# One TURN user per role: netem shapes what SENDER_USER sends with the media trace.
SENDER_USER = "sender:netem"
RECEIVER_USER = "receiver:netem"
SETUP_SLACK_S = 45.0  # ICE over TURN, DTLS and teardown on a loaded 2-core machine


@dataclass(frozen=True)
class CallSpec:
    controller: str
    link: LinkSpec
    duration_s: float
    label: str
    receiver_args: tuple[str, ...] = ()  # extra peer flags for the receiver, e.g. --no-nack
    source: str = "testpattern"  # what the sender plays: testpattern or clip:NAME
    playout_delay: bool = True  # a Python sender asks for playout delay 0 (peer's default)
    receiver: str = "python"  # python: our peer; chrome: the demo page (chrome_receiver)
    audio: str = "none"  # what each Python peer sends as sound (peer --audio): none or tone


def start_netem(link: LinkSpec, folder: Path) -> Service:
    media, feedback = trace_files(link.trace)
    args = ["--listen", "127.0.0.1:0", "--up", media, "--down", feedback,
            "--delay-ms", f"{link.delay_ms:g}", "--seed", str(link.seed),
            "--user", SENDER_USER, "--user", RECEIVER_USER,
            "--up-user", SENDER_USER.partition(":")[0],
            "--packet-log", str(folder / "netem.jsonl")]
    if link.loss:
        args += ["--loss", f"{link.loss:g}"]
    if link.queue_packets is not None:
        args += ["--queue-packets", str(link.queue_packets)]
    if link.reorder:
        args += ["--reorder", f"{link.reorder:g}"]
    if link.duplicate:
        args += ["--duplicate", f"{link.duplicate:g}"]
    for at_s, count in link.burst_loss:  # media crosses netem's up direction
        args += ["--burst-loss", f"{MEDIA_DIRECTION}:{at_s}:{count}"]
    return start_service("netem", python_command("netem", *args),
                         ready=r"TURN relay on turn:(\S+:\d+)", log_path=folder / "netem.log")


def peer_args(signaling: Service, netem: Service, room: str, ice_user: str) -> list[str]:
    return ["--signaling", signaling.address, "--room", room,
            "--ice-server", f"turn:{netem.address}", "--ice-user", ice_user, "--relay-only"]


def run_call(spec: CallSpec, folder: Path) -> dict[str, Any]:
    """One call; returns (and writes to result.json) its status and completed summary."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "spec.json").write_text(json.dumps(asdict(spec), indent=1))
    room = f"x-{uuid.uuid4().hex[:10]}"
    remote_source_args: list[str] = []
    if spec.controller == "chrome" and spec.receiver == "python":  # what Chromium's file holds
        from experiments.chrome_sender import receiver_flags
        from peer.file_source import SourceError

        try:
            remote_source_args = receiver_flags(spec.source)
        except SourceError as exc:
            return _result(folder, spec, "failed", str(exc))
    try:
        netem = start_netem(spec.link, folder)
    except ServiceError as exc:
        return _result(folder, spec, "failed", f"netem: {exc}")
    signaling = start_signaling()
    if spec.receiver == "chrome":
        with running(netem, signaling):
            status, reason = _run_chrome_receiver(spec, folder, signaling, netem, room)
        return _finish(folder, spec, status, reason)
    receiver_args = ["--direction", "recvonly", "--duration", str(spec.duration_s + SETUP_SLACK_S),
                     "--metrics", str(folder / "receiver.jsonl"), "--audio", spec.audio,
                     *spec.receiver_args]
    receiver_args += remote_source_args
    with running(netem, signaling):
        receiver = start_service(
            "receiver",
            python_command("peer", *peer_args(signaling, netem, room, RECEIVER_USER),
                           *receiver_args),
            ready=r"peer: (joined) room", log_path=folder / "receiver.log")
        try:
            status, reason = _run_sender(spec, folder, signaling, netem, room)
        finally:
            # The receiver ends on the sender's bye; give it a moment to write its summary.
            try:
                receiver.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                stop_process(receiver.process)
    return _finish(folder, spec, status, reason)


def _run_chrome_receiver(spec: CallSpec, folder: Path, signaling: Service, netem: Service,
                         room: str) -> tuple[str, str]:
    from experiments.chrome_receiver import run_chrome_receiver

    def send() -> tuple[str, str]:
        return _run_sender(spec, folder, signaling, netem, room)

    return run_chrome_receiver(folder, signaling, netem, room, duration_s=spec.duration_s,
                               receiver_user=RECEIVER_USER, sender_user=SENDER_USER,
                               source=spec.source,
                               send=None if spec.controller == "chrome" else send)


def _finish(folder: Path, spec: CallSpec, status: str, reason: str) -> dict[str, Any]:
    """The call's result from its receiver.jsonl, completed from netem's log."""
    if status != "ok":
        return _result(folder, spec, status, reason)
    summary = read_summary(folder / "receiver.jsonl")
    if summary is None or not summary.get("frames_shown"):
        return _result(folder, spec, "failed", "the receiver showed no frame")
    summary = {**completed_summary(folder, spec.link, summary), **media_fields(folder, summary)}
    return _result(folder, spec, "ok", reason, summary)


def media_fields(folder: Path, summary: dict[str, Any]) -> dict[str, Any]:
    """`media_trace` and `media_capacity_kbps`: the trace file netem applied to the direction
    that carried the media, over the receiver's call window (None when the logs do not say)."""
    start_s, duration_s = summary.get("start_s"), summary.get("duration_s")
    link = None
    if isinstance(start_s, int | float) and isinstance(duration_s, int | float):
        link = media_link(read_jsonl(folder / "netem.jsonl"), start_s, start_s + duration_s)
    if link is None:
        return {"media_trace": None, "media_capacity_kbps": None}
    return link.summary_fields()


def _run_sender(spec: CallSpec, folder: Path, signaling: Service, netem: Service,
                room: str) -> tuple[str, str]:
    if spec.controller == "chrome":
        from experiments.chrome_sender import run_chrome_sender

        return run_chrome_sender(folder, signaling, netem, room, spec.duration_s, SENDER_USER,
                                 spec.source)
    command = python_command("peer", *peer_args(signaling, netem, room, SENDER_USER),
                             "--direction", "sendonly", "--controller", spec.controller,
                             "--source", spec.source, "--audio", spec.audio,
                             *(() if spec.playout_delay else ("--no-playout-delay",)),
                             "--duration", str(spec.duration_s),
                             "--metrics", str(folder / "sender.jsonl"))
    with open(folder / "sender.log", "w", encoding="utf-8") as log:
        sender = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                  env=child_env())
        try:
            code = sender.wait(timeout=spec.duration_s + SETUP_SLACK_S)
        except subprocess.TimeoutExpired:
            stop_process(sender)
            return "failed", "the sender did not finish in time"
        except KeyboardInterrupt:
            stop_process(sender)
            raise
    if code != 0:
        lines = (folder / "sender.log").read_text().strip().splitlines()
        return "failed", lines[-1] if lines else f"sender exited with status {code}"
    return "ok", "call completed"


def _result(folder: Path, spec: CallSpec, status: str, reason: str,
            summary: dict[str, Any] | None = None) -> dict[str, Any]:
    media = {k: (summary or {}).get(k) for k in ("media_trace", "media_capacity_kbps")}
    result = {"controller": spec.controller, "receiver": spec.receiver,
              "label": spec.label, "status": status,
              "reason": reason, **media, "summary": summary, "finished_at": time.time()}
    (folder / "result.json").write_text(json.dumps(result, indent=1))
    return result
