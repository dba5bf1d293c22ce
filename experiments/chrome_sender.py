"""The `chrome` controller: headless Chromium sends our stamped test pattern through the demo
page, so Chromium's own WebRTC stack (libwebrtc: GCC, pacer, its VP8 rate control) is measured
by the same Python receiver as every other controller. With `--source clip:NAME` it sends the
stamped clip instead, one loop of it at its own frame rate (`source_file`).

Chromium plays the exported pattern (`peer.y4m`) as its fake camera, looping every
`LOOP_FRAMES` frames; the page joins the room second and offers, with relay-only TURN through
netem. The picture carries the frame number but not the capture time, so capture times come from
the page itself: an injected script (chrome_stamp.js) reads the stamp of every frame the local
preview presents, with the capture time Chromium reports for it (requestVideoFrameCallback's
captureTime, on the wall clock of performance.timeOrigin). Chromium's file camera does not keep
a steady 30 fps under load (measured: capture times drift over 100 ms from one t0 in 12 s),
so each frame the receiver showed takes the capture time logged for that very frame; a frame
the preview skipped takes its nearest logged neighbour's, moved by the frame interval. The
share of frames matched exactly is written to the result's reason (`anchor_receiver_log`).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from experiments.processes import Service
from peer.clip_source import clip_name, load_clip
from peer.metrics import ShownFrame, summarize
from peer.testpattern import DEFAULT_FPS, DEFAULT_HEIGHT, DEFAULT_WIDTH
from peer.y4m import export_content, export_test_pattern

CHROMIUM = Path("/usr/bin/chromium")
LOOP_FRAMES = 300  # 10 s at 30 fps: 138 MB of Y4M, longer than any frame delay
CHROMIUM_FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
    "--allow-loopback-in-peer-connection", "--autoplay-policy=no-user-gesture-required",
)
CONNECT_TIMEOUT_S = 40.0
NEIGHBOUR_FRAMES = 3  # a frame the preview skipped is timed from a logged one this close
STAMP_SCRIPT = Path(__file__).with_name("chrome_stamp.js")


def cache_dir() -> Path:
    """Where the exported pattern is kept between runs ($XDG_CACHE_HOME/rtvc)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rtvc"


def _made_once(path: Path, write: Callable[[Path], None]) -> Path:
    """`path`, written by `write` the first time (into a .part file renamed into place, so an
    interrupted export is never taken for a whole one)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        write(partial)
        partial.rename(path)
    return path


@dataclass(frozen=True)
class ExportedSource:
    """The file Chromium plays as its camera, and how its stamps loop."""

    path: Path
    loop_frames: int
    fps: float


def source_file(cache: Path, source: str = "testpattern") -> ExportedSource:
    """The exported `source` (testpattern, or clip:NAME: one loop of the stamped clip, 65 MB
    for bikes), made once and reused; SourceError when the clip cannot be loaded."""
    name = clip_name(source)
    if name is None:  # the test pattern: 138 MB
        path = _made_once(cache / f"pattern-{LOOP_FRAMES}.y4m", lambda partial: (
            export_test_pattern(partial, LOOP_FRAMES, DEFAULT_WIDTH, DEFAULT_HEIGHT,
                                DEFAULT_FPS)))
        return ExportedSource(path, LOOP_FRAMES, DEFAULT_FPS)
    clip = load_clip(name)
    path = _made_once(cache / f"clip-{name}-{len(clip)}.y4m",
                      lambda partial: export_content(partial, clip, len(clip), clip.fps))
    return ExportedSource(path, len(clip), clip.fps)


def exported_source(source: str) -> ExportedSource:
    """`source` exported for Chromium's file camera (source_file in the cache); SourceError
    in one line when it cannot be made, so that only this call fails."""
    from peer.file_source import SourceError

    try:
        return source_file(cache_dir(), source)
    except OSError as exc:
        raise SourceError(f"cannot export {source} for Chromium into {cache_dir()}: {exc}; "
                          "free disk space or set XDG_CACHE_HOME") from exc


def page_url(signaling: Service, netem: Service, room: str, ice_user: str,
             extra: str = "") -> str:
    """The demo page in `room`, relay-only through netem as `ice_user` (NAME:PASSWORD),
    charts hidden; `extra`: more of the query (`&key=value...`)."""
    return (signaling.address.replace("ws://", "http://").removesuffix("/ws")
            + f"/?room={room}&autojoin=1&relay=1&ice=turn:{netem.address}"
            + f"&ice_user={quote(ice_user, safe=':')}&stats=0{extra}")


def receiver_flags(source: str = "testpattern") -> list[str]:
    """Flags telling our receiving peer what Chromium's looping file holds."""
    name = clip_name(source)
    loop_frames = LOOP_FRAMES if name is None else len(load_clip(name))
    return ["--remote-pattern-loop", str(loop_frames), "--remote-source", source]


def run_chrome_sender(folder: Path, signaling: Service, netem: Service, room: str,
                      duration_s: float, ice_user: str,
                      source: str = "testpattern") -> tuple[str, str]:
    """Chromium sends `source` for `duration_s` from the moment it connected; `ice_user` is
    its TURN NAME:PASSWORD (netem shapes by it)."""
    if not CHROMIUM.is_file():
        return "skipped", f"{CHROMIUM} is not installed (apt-get install -y chromium)"
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        return "skipped", "the playwright package is not installed"
    from peer.file_source import SourceError

    try:
        exported = exported_source(source)
    except SourceError as exc:  # this call fails; the other controllers' calls still run
        return "failed", str(exc)
    video = exported.path
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True,
                args=[*CHROMIUM_FLAGS, f"--use-file-for-fake-video-capture={video}"])
            try:
                page = browser.new_page()
                page.add_init_script(path=str(STAMP_SCRIPT))
                page.goto(page_url(signaling, netem, room, ice_user))
                page.wait_for_function(
                    "window.callState && window.callState.connectionState === 'connected'",
                    timeout=CONNECT_TIMEOUT_S * 1000)
                time.sleep(duration_s)
                stamps = page.evaluate("window.stampLog")
                page.evaluate("window.callControl.hangup()")
                time.sleep(0.5)
            finally:
                browser.close()
    except PlaywrightError as exc:
        return "failed", f"chromium: {str(exc).splitlines()[0]}"
    (folder / "chrome.json").write_text(json.dumps({"stamps": stamps}))
    capture_log = CaptureLog(stamps, exported.loop_frames, exported.fps)
    if not capture_log:
        return "failed", "could not read the stamp of Chromium's local preview"
    exact, timed = anchor_receiver_log(folder / "receiver.jsonl", capture_log)
    return "ok", (f"capture times from the page's preview ({capture_log.source}): "
                  f"{exact} shown frames matched exactly, {timed - exact} from a neighbour")


class CaptureLog:
    """Capture times of the looping file's frames, by frame number (stamp)."""

    def __init__(self, stamps: list[dict[str, Any]], loop_frames: int = LOOP_FRAMES,
                 fps: float = DEFAULT_FPS) -> None:
        self.loop_frames, self.fps = loop_frames, fps
        key = "wallCapture" if any(s.get("wallCapture") for s in stamps) else "wallNow"
        self.source = "captureTime" if key == "wallCapture" else "callback time"
        self._times: dict[int, list[float]] = {}  # stamp -> capture times, one per loop
        seen: set[int] = set()
        loops, previous = 0, None
        for sample in stamps:
            if sample.get(key) is None:
                continue
            if previous is not None and sample["id"] < previous - loop_frames // 2:
                loops += 1
            previous = sample["id"]
            index = sample["id"] + loops * loop_frames  # the preview may present a frame twice
            if index not in seen:
                seen.add(index)
                self._times.setdefault(sample["id"], []).append(sample[key] / 1000)

    def __len__(self) -> int:
        return sum(len(times) for times in self._times.values())

    def captured_at(self, frame_id: int, shown_at: float) -> tuple[float | None, bool]:
        """(capture time of `frame_id` in the loop just before `shown_at`, exact?)."""
        earliest = shown_at - self.loop_frames / self.fps / 2  # no frame is 5 s late

        def latest_plausible(times: list[float], shift_s: float) -> float | None:
            moved = [t + shift_s for t in times if earliest < t + shift_s <= shown_at]
            return max(moved) if moved else None

        exact = latest_plausible(self._times.get(frame_id, []), 0.0)
        if exact is not None:
            return exact, True
        estimates = []  # the preview skipped it: from its neighbours in the same loop
        for offset in range(-NEIGHBOUR_FRAMES, NEIGHBOUR_FRAMES + 1):
            neighbour = frame_id + offset
            if offset and 0 <= neighbour < self.loop_frames:
                estimate = latest_plausible(self._times.get(neighbour, []),
                                            -offset / self.fps)
                if estimate is not None:
                    estimates.append(estimate)
        return (max(estimates), False) if estimates else (None, False)


def anchor_receiver_log(receiver_log: Path, capture_log: CaptureLog) -> tuple[int, int]:
    """Give every shown frame its capture time from the page's log, and redo the summary.
    Returns (frames matched exactly, frames given a time)."""
    records = [json.loads(line) for line in receiver_log.read_text().splitlines()]
    frames: list[ShownFrame] = []
    exact = timed = 0
    out = []
    for record in records:
        if record.get("type") == "shown":
            captured, matched = (None, False)
            if record.get("frame_id") is not None:
                captured, matched = capture_log.captured_at(record["frame_id"],
                                                            record["shown_at"])
            exact += matched
            timed += captured is not None
            frame = ShownFrame(record.get("frame_id"), captured, record["shown_at"],
                               record.get("bytes"), record.get("ssim_db"), record.get("psnr_db"))
            frames.append(frame)
            record = frame.to_json()
        elif record.get("type") == "summary":
            record = {**record, **summarize(
                frames, duration_s=record["duration_s"], start_s=record.get("start_s"),
                frames_sent=record.get("frames_sent"), keyframes=record.get("keyframes"),
                fps=record.get("source_fps") or DEFAULT_FPS).to_json(),
                "capture_clock": f"page log ({capture_log.source})"}
        out.append(json.dumps(record, separators=(",", ":")))
    receiver_log.write_text("\n".join(out) + "\n")
    return exact, timed
