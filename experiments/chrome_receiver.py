"""`--receiver chrome`: headless Chromium's demo page receives the call and measures it.

The page joins the room first, with no camera (`camera=0`), relay-only through netem with the
receiver's TURN user; then the sender joins and offers: our Python peer (`send`, run by
experiments.run), or with `--controller chrome` a second page of the same browser playing the
exported pattern as its fake camera, exactly as the chrome controller does. The receiving page
reads the stamp of every frame #remote presents (signaling/static/frame_age.js, the stamp
reader the chrome sender uses) and the time Chromium expects it on screen; the harness reads
the page's clock against ours at the start and end, and writes receiver.jsonl in our
receiver's format (experiments.page_frames), so the same summary comes out.

Capture times: our sender announces its source clock in its offer (t0, fps), so a stamp is a
capture time; Chromium as sender is timed from its own preview's log (chrome_sender.CaptureLog).
SSIM and PSNR are scored on a sample (every SSIM_EVERY-th stamped frame: a full frame's pixels
leave the page as base64, too heavy for every frame on two cores), from the page's RGB.
Chromium's own figures over the call (getStats inbound-rtp video: jitterBufferDelay and
friends per frame emitted) go into the summary beside ours. With our sender's tone
(`--audio tone`), the page times each marker it hears (signaling/static/audio_marker.js) and
the summary gets audio_delay_ms_p95 and av_skew_ms_p95 as our receiver computes them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from experiments.chrome_sender import (
    CHROMIUM,
    CHROMIUM_FLAGS,
    CONNECT_TIMEOUT_S,
    STAMP_SCRIPT,
    CaptureLog,
    exported_source,
    page_url,
)
from experiments.page_frames import (
    CaptureTime,
    PageClock,
    audio_path_fields,
    heard_markers,
    jitter_buffer_fields,
    missed_callbacks,
    receiver_lines,
    shown_frames,
    with_sampled_quality,
)
from experiments.processes import Service
from peer.source import SourceClock

SSIM_EVERY = 30  # stamped frames per scored one: about one a second
STATS_MS = 500  # the page's getStats interval; it samples once more on the sender's bye
CLOCK_TRIES = 7  # page clock readings per tie; the quickest round trip is kept
END_TIMEOUT_S = 15.0  # for the sender's bye to reach the page
Sender = Callable[[], tuple[str, str]]  # runs the whole send side; (status, reason)


def read_clock(page: Any, tries: int = CLOCK_TRIES) -> tuple[float, float, float]:
    """(our time before, the page's wall ms, our time after): the reading of `tries` with the
    shortest round trip (as NTP keeps its best sample), for PageClock."""
    readings = []
    for _ in range(tries):
        before = time.time()
        page_ms = float(page.evaluate("performance.timeOrigin + performance.now()"))
        readings.append((before, page_ms, time.time()))
    return min(readings, key=lambda r: r[2] - r[0])


def run_chrome_receiver(folder: Path, signaling: Service, netem: Service, room: str, *,
                        duration_s: float, receiver_user: str, sender_user: str,
                        source: str = "testpattern", send: Sender | None = None
                        ) -> tuple[str, str]:
    """One call into a receiving page; `send` None: a second page of the browser sends."""
    if not CHROMIUM.is_file():
        return "skipped", f"{CHROMIUM} is not installed (apt-get install -y chromium)"
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        return "skipped", "the playwright package is not installed"
    from peer.file_source import SourceError

    args = list(CHROMIUM_FLAGS)
    exported = None
    if send is None:
        try:
            exported = exported_source(source)
        except SourceError as exc:
            return "failed", str(exc)
        args.append(f"--use-file-for-fake-video-capture={exported.path}")
    sent: dict[str, Any] = {}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                                 args=args)
            try:
                page = browser.new_page()
                page.goto(page_url(signaling, netem, room, receiver_user,
                                   f"&stats_ms={STATS_MS}&camera=0&stamps=1"
                                   f"&ssim_every={SSIM_EVERY}"))
                page.wait_for_function("window.callState && window.callState.phase === 'waiting'",
                                       timeout=CONNECT_TIMEOUT_S * 1000)
                readings = [read_clock(page)]
                if send is not None:
                    status, reason = send()
                else:
                    status, reason = _send_from_page(browser, signaling, netem, room,
                                                     sender_user, duration_s, sent)
                if status == "ok":
                    page.wait_for_function("window.callState.endedAtWall !== null",
                                           timeout=END_TIMEOUT_S * 1000)
                readings.append(read_clock(page))
                measured = page.evaluate(
                    "({log: window.frameAge.log, samples: window.frameAge.samples,"
                    " audio: window.audioMarker, state: window.callState,"
                    " audioStats: window.callStats.map((s) => [s.wallMs,"
                    " s.audioJitterBufferDelay, s.audioJitterBufferEmittedCount,"
                    " s.audioJitterBufferTargetDelay, s.audioJitterBufferMinimumDelay,"
                    " s.audioJitterMs]),"
                    " stats: window.callStats.slice(-1)[0] ?? null})")
            finally:
                browser.close()
    except PlaywrightError as exc:
        return "failed", f"chromium: {str(exc).splitlines()[0]}"
    if status != "ok":
        return status, reason
    samples = measured.pop("samples")
    (folder / "page.json").write_text(json.dumps({**measured, **sent, "clock": readings}))
    return write_receiver_log(folder, measured, samples, readings, sent, source, exported)


def _send_from_page(browser: Any, signaling: Service, netem: Service, room: str,
                    sender_user: str, duration_s: float, sent: dict[str, Any]
                    ) -> tuple[str, str]:
    """A second page plays the exported file (the chrome controller's page) for the call."""
    page = browser.new_page()
    page.add_init_script(path=str(STAMP_SCRIPT))
    page.goto(page_url(signaling, netem, room, sender_user, f"&stats_ms={STATS_MS}"))
    page.wait_for_function("window.callState.connectionState === 'connected'",
                           timeout=CONNECT_TIMEOUT_S * 1000)
    time.sleep(duration_s)
    sent["sender_clock"] = [read_clock(page)]
    sent["sender_stamps"] = page.evaluate("window.stampLog")
    last = page.evaluate("window.callStats.slice(-1)[0] ?? null") or {}
    sent["frames_sent"] = last.get("framesSent")
    page.evaluate("window.callControl.hangup()")
    return "ok", "call completed"


def write_receiver_log(folder: Path, measured: dict[str, Any], samples: list[dict[str, Any]],
                       readings: list[tuple[float, float, float]], sent: dict[str, Any],
                       source: str, exported: Any) -> tuple[str, str]:
    """receiver.jsonl from what the page measured; (status, reason)."""
    state = measured["state"]
    if state.get("connectedAtWall") is None:
        return "failed", "the receiving page never connected"
    clock = PageClock.from_readings(readings)
    announced = SourceClock.from_json(state.get("remoteSource"))
    capture_time: CaptureTime | None = None
    kind, fps = source, exported.fps if exported else 30.0
    if announced is not None and announced.t0 is not None:
        capture_time, kind, fps = announced.captured_at, announced.kind, announced.fps
        timing = "our sender's announced source clock"
    elif sent.get("sender_stamps"):
        sender_clock = PageClock.from_readings(sent["sender_clock"])
        shifted = [{**s, "wallCapture": (None if s.get("wallCapture") is None
                                         else s["wallCapture"] - sender_clock.offset_s * 1000),
                    "wallNow": s["wallNow"] - sender_clock.offset_s * 1000}
                   for s in sent["sender_stamps"]]
        log = CaptureLog(shifted, exported.loop_frames, exported.fps)

        def capture_time(frame_id: int, shown_at: float) -> float | None:
            return log.captured_at(frame_id, shown_at)[0]

        timing = f"the sending page's preview ({log.source})"
    else:
        timing = "none: delay unknown"
    frames = shown_frames(measured["log"], clock, capture_time)
    frames, scored = with_sampled_quality(frames, samples, clock, _source_luma(kind))
    # The tone's timeline is our sender's source clock (peer.audio_tone): no t0, no delay.
    tone_t0 = announced.t0 if announced is not None else None
    heard = (measured.get("audio") or {}).get("heard") or []
    markers = heard_markers(heard, clock, tone_t0, frames)
    stats = measured.get("stats") or {}
    extra = {**jitter_buffer_fields(stats),
             "page_clock_offset_ms": round(clock.offset_s * 1000, 2),
             "page_clock_error_ms": round(clock.error_s * 1000, 2),
             "rvfc_missed": missed_callbacks(measured["log"]),
             "ssim_sampled": scored, "ssim_every": SSIM_EVERY,
             **audio_path_fields(heard, stats),
             "received_kbps": None, "capture_clock": timing}
    start_s = clock.ours(state["connectedAtWall"])
    end_s = clock.ours(state.get("endedAtWall") or readings[-1][1])
    if isinstance(stats.get("bytesIn"), int | float) and end_s > start_s:
        extra["received_kbps"] = round(stats["bytesIn"] * 8 / 1000 / (end_s - start_s), 3)
    frames_sent = state.get("remoteFramesSent") or sent.get("frames_sent")
    lines = receiver_lines(frames, start_s=start_s, end_s=end_s, fps=fps,
                           frames_sent=frames_sent, markers=markers, extra=extra)
    (folder / "receiver.jsonl").write_text(
        "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines))
    stamped = sum(1 for f in frames if f.frame_id is not None)
    return "ok", (f"Chromium received: {len(frames)} frames presented, {stamped} stamped; "
                  f"capture times from {timing}; page clock {extra['page_clock_offset_ms']:+.1f}"
                  f" ms from ours, error ±{extra['page_clock_error_ms']:.1f} ms; SSIM on "
                  f"{scored} sampled frames (every {SSIM_EVERY}th stamped); "
                  f"{extra['rvfc_missed']} frames presented without a callback; "
                  f"{len(markers)} tone markers heard")


def _source_luma(kind: str) -> Callable[[int], np.ndarray] | None:
    from peer.clip_source import clip_name, load_clip
    from peer.file_source import SourceError
    from peer.testpattern import DEFAULT_HEIGHT, DEFAULT_WIDTH, pattern

    try:
        name = clip_name(kind)
        if name is not None:
            return load_clip(name).luma
        return pattern(DEFAULT_WIDTH, DEFAULT_HEIGHT).luma if kind == "testpattern" else None
    except SourceError:
        return None
