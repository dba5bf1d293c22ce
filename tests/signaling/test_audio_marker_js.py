"""The page's marker detector (signaling/static/audio_marker_worklet.js, run here with node)
finds the same markers at the same samples as peer/audio_marker.py's, on the tone after Opus."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from peer.audio_marker import MarkerDetector, tone_samples
from tests.peer.test_audio_marker import opus_round_trip
from tests.signaling.support import REPO_ROOT

WORKLET = REPO_ROOT / "signaling" / "static" / "audio_marker_worklet.js"
RATE = 48_000
QUANTUM = 128  # WebAudio's render quantum
FIRST_FRAME = 5_000  # the context's frame of the first sample: times are context frames
NODE_FEED = """
const fs = require("fs"), vm = require("vm");
vm.runInThisContext(fs.readFileSync(process.argv[2], "utf8"));
const raw = fs.readFileSync(process.argv[3]);
const samples = new Float32Array(raw.buffer, raw.byteOffset, raw.length / 4);
const detector = new globalThis.RtvcMarkerDetector(Number(process.argv[4]));
const first = Number(process.argv[5]), heard = [];
for (let i = 0; i + 128 <= samples.length; i += 128) {
  heard.push(...detector.feed(samples.subarray(i, i + 128), first + i));
}
console.log(JSON.stringify(heard));
"""

node = shutil.which("node")
pytestmark = pytest.mark.skipif(node is None, reason="node is not installed")


def page_markers(samples: np.ndarray, tmp_path: Path) -> list[tuple[int, int]]:
    (tmp_path / "feed.js").write_text(NODE_FEED)
    (tmp_path / "samples.f32").write_bytes(samples.astype(np.float32).tobytes())
    assert node is not None
    out = subprocess.run([node, str(tmp_path / "feed.js"), str(WORKLET),
                          str(tmp_path / "samples.f32"), str(RATE), str(FIRST_FRAME)],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    return [(m["code"], m["sample"] - FIRST_FRAME) for m in json.loads(out)]


def python_markers(samples: np.ndarray) -> list[tuple[int, int]]:
    detector = MarkerDetector(RATE)
    heard = []
    usable = len(samples) - len(samples) % QUANTUM  # as much as the page is fed
    for start in range(0, usable, 960):
        chunk = samples[start:min(start + 960, usable)]
        heard += detector.feed(chunk, start / RATE)
    return [(m.code, round(m.heard_at * RATE)) for m in heard]


def test_the_page_hears_the_same_markers_as_the_python_receiver(tmp_path: Path) -> None:
    # 4.6 s of the tone from 0.3 s into its timeline, through Opus, with a little noise
    samples = opus_round_trip(tone_samples(round(0.3 * RATE), round(4.6 * RATE), RATE), 32_000)
    samples = samples + np.random.default_rng(1).normal(0, 0.003, samples.size)
    ours, page = python_markers(samples), page_markers(samples, tmp_path)
    assert [code for code, _ in ours] == [1, 2, 3, 0]  # seconds 1 to 4
    assert [code for code, _ in page] == [code for code, _ in ours]
    for (_, at_page), (_, at_ours) in zip(page, ours, strict=True):
        assert abs(at_page - at_ours) <= 1  # the same window, to a sample's rounding


def test_the_page_hears_no_marker_in_a_plain_tone_or_noise(tmp_path: Path) -> None:
    t = np.arange(2 * RATE) / RATE
    plain = 0.3 * np.sin(2 * np.pi * 440 * t)
    noise = np.random.default_rng(2).normal(0, 0.2, 2 * RATE)
    assert page_markers(np.concatenate([plain, noise, np.zeros(RATE)]), tmp_path) == []
