"""A synthetic run folder laid out as `python -m experiments run` writes it (shared fake)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from peer.metrics import ShownFrame, summarize

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
WALL0_S = 1_795_000_000.0  # the relay's origin on the wall clock
LINK_START_MS = 500.0  # trace time 0, in ms since the origin
FPS = 30
FRAMES = 300  # 10 s
CHROME_REASON = "chromium is not installed; apt-get install chromium"


def jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def write_call(
    folder: Path,
    controller: str,
    label: str,
    *,
    base_delay_ms: float,
    ssim_db: float,
    seed: int = 0,
    link_events: bool = True,
    media_trace: str | None = "const-1mbps",
    media_capacity_kbps: float | None = 1000.0,
    floor_ms: float = 21.0,
) -> dict[str, Any]:
    """One ok call: receiver/sender/netem logs and a result.json; returns its summary."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    t0 = WALL0_S + LINK_START_MS / 1000
    start_s = t0 + 0.2
    shown, frames = [], []
    for i in range(FRAMES):
        if 150 <= i < 160:  # a 330 ms stall: never shown
            continue
        captured = start_s + i / FPS
        delay = base_delay_ms + float(rng.exponential(base_delay_ms / 3))
        ssim = psnr = None
        if i % 4:  # SSIM on most frames, not all
            ssim, psnr = ssim_db + float(rng.normal(0, 0.3)), 30.0 + float(rng.normal(0, 0.5))
        frame = ShownFrame(i, captured, captured + delay / 1000, 2000, ssim, psnr)
        frames.append(frame)
        shown.append(frame.to_json())
    summary = summarize(frames, duration_s=10.0, start_s=start_s, fps=FPS, frames_sent=FRAMES,
                        keyframes=2).to_json()
    jsonl(folder / "receiver.jsonl", [
        {"type": "event", "event": "connected", "at": t0 + 0.1}, *shown,
        {"type": "summary", **summary, "start_s": start_s, "duration_s": 10.0,
         "source_fps": FPS, "frames_dropped": 0, "controller": controller,
         "ended": "duration reached", "ok": True},
    ])
    jsonl(folder / "sender.jsonl", [{"type": "summary", "sent": {
        "frames_captured": FRAMES, "frames_encoded": FRAMES, "frames_skipped": 0,
        "keyframes": 2, "bytes_encoded": FRAMES * 2000, "packets_sent": FRAMES * 2,
        "bytes_sent": FRAMES * 2100, "feedback_received": 100, "target_kbps_final": 500}}])
    packets: list[dict[str, Any]] = []
    if link_events:
        packets += [{"event": "origin", "wall_s": WALL0_S},
                    {"event": "link", "direction": "up", "start_ms": LINK_START_MS},
                    {"event": "link", "direction": "down", "start_ms": LINK_START_MS}]
    for i in range(FRAMES * 2):
        enq = LINK_START_MS + 200 + i * 1000 / (2 * FPS)
        if i % 50 == 49:
            packets.append({"direction": "up", "size": 1100, "enqueued_ms": enq,
                            "dropped_ms": enq, "reason": "queue full"})
        else:
            packets.append({"direction": "up", "size": 1100, "enqueued_ms": enq,
                            "delivered_ms": enq + 25, "sent_ms": enq + 25.2})
        if i % 10 == 0:
            packets.append({"direction": "down", "size": 80, "enqueued_ms": enq,
                            "delivered_ms": enq + 21, "sent_ms": enq + 21.1})
    jsonl(folder / "netem.jsonl", packets)
    completed = {**summary, "capacity_kbps": 1000.0, "oracle_delay_ms_p95": 40.0,
                 "signal_floor_ms_p95": floor_ms, "media_trace": media_trace,
                 "media_capacity_kbps": media_capacity_kbps}
    (folder / "result.json").write_text(json.dumps({
        "controller": controller, "label": label, "status": "ok", "reason": "call completed",
        "summary": completed}))
    return completed


def write_settings(folder: Path, trace: str, controllers: list[str], repeat: int = 1) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "settings.json").write_text(json.dumps({
        "trace": trace, "media_trace": trace, "feedback_trace": trace, "duration_s": 10.0,
        "delay_ms": 20.0, "loss": 0.0, "queue_packets": None, "repeat": repeat,
        "controllers": controllers, "machine": {"cpus": 2, "platform": "Linux-test"},
        "versions": {"aiortc": "1.16.0", "av": "18.1.0"},
        "started_at": "2026-11-24T04:00:00+00:00"}))


def write_skipped(folder: Path, controller: str, reason: str) -> None:
    folder.mkdir(parents=True)
    (folder / "result.json").write_text(json.dumps({
        "controller": controller, "label": controller, "status": "skipped", "reason": reason,
        "summary": None}))


def standard_run(out: Path) -> Path:
    """ours and aiortc once each, chrome skipped."""
    write_settings(out, "const-1mbps", ["ours", "aiortc", "chrome"])
    write_call(out / "ours", "ours", "ours", base_delay_ms=60, ssim_db=12, seed=1)
    write_call(out / "aiortc", "aiortc", "aiortc", base_delay_ms=400, ssim_db=10, seed=2)
    write_skipped(out / "chrome", "chrome", CHROME_REASON)
    return out
