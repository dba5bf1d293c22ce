"""--audio: what each choice opens, and one-line refusals that name what is wrong."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from peer.audio_sources import (
    ALSA_DEVICES,
    AudioSourceError,
    FileAudioTrack,
    SessionAudioTrack,
    decode_file,
    open_audio_source,
)
from peer.audio_tone import FRAME_SAMPLES, ToneTrack


def write_wav(path: Path, seconds: float, rate: int = 16_000) -> None:
    t = np.arange(int(seconds * rate)) / rate
    pcm = np.round(10_000 * np.sin(2 * np.pi * 300 * t)).astype(np.int16)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())


def test_tone_and_none() -> None:
    track = open_audio_source("tone", 123.0)
    assert isinstance(track, ToneTrack) and track.t0 == 123.0
    assert open_audio_source("none") is None


def test_a_session_stopping_its_track_leaves_the_source_to_the_next_session() -> None:
    source = ToneTrack()
    first, second = SessionAudioTrack(source), SessionAudioTrack(source)

    async def frames() -> list[int]:
        pts = [(await first.recv()).pts]
        first.stop()  # what aiortc's sender does when its session closes
        pts.append((await second.recv()).pts)
        return pts

    pts = asyncio.run(frames())
    assert source.readyState == "live" and pts[1] == pts[0] + FRAME_SAMPLES


def test_a_sound_file_is_decoded_to_48k_mono_and_looped(tmp_path: Path) -> None:
    path = tmp_path / "a.wav"
    write_wav(path, 0.05)  # 50 ms at 16 kHz: 2400 samples at 48 kHz
    assert len(decode_file(path)) == pytest.approx(2400, abs=64)
    track = open_audio_source(str(path))
    assert isinstance(track, FileAudioTrack)

    async def frames() -> list[int]:
        return [(await track.recv()).samples for _ in range(4)]  # past the loop's end

    assert asyncio.run(frames()) == [FRAME_SAMPLES] * 4


def test_a_file_that_does_not_decode_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "broken.ogg"
    bad.write_bytes(b"this is not sound" * 50)
    with pytest.raises(AudioSourceError, match=r"broken\.ogg"):
        open_audio_source(str(bad))
    with pytest.raises(AudioSourceError, match=r"missing\.wav does not exist"):
        open_audio_source(str(tmp_path / "missing.wav"))


@pytest.mark.skipif(ALSA_DEVICES.is_dir(), reason="this machine has a sound card")
def test_no_microphone_is_one_line_and_exit_1(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "peer", "--signaling", "ws://127.0.0.1:9/ws", "--room", "r",
         "--audio", "mic"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"peer: --audio mic: no microphone ({ALSA_DEVICES} does not exist); use --audio tone "
        "or --audio FILE"]


def test_an_undecodable_file_fails_the_peer_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "noise.mp3"
    bad.write_bytes(bytes(range(256)) * 8)
    done = subprocess.run(
        [sys.executable, "-m", "peer", "--signaling", "ws://127.0.0.1:9/ws", "--room", "r",
         "--audio", str(bad)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(bad) in lines[0]
