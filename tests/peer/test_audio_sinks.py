"""--audio-sink: a WAV file of what arrived; a speaker that is not there says so."""

from __future__ import annotations

import fractions
import wave
from pathlib import Path

import av
import numpy as np
import pytest

from peer.audio_sinks import (
    ALSA_DEVICES,
    AudioSinkError,
    NullAudioSink,
    WavSink,
    open_audio_sink,
)


def stereo_frame(value: int, samples: int = 960) -> av.AudioFrame:
    data = np.full((1, samples * 2), value, dtype=np.int16)
    frame = av.AudioFrame.from_ndarray(data, format="s16", layout="stereo")
    frame.sample_rate, frame.pts, frame.time_base = 48_000, 0, fractions.Fraction(1, 48_000)
    return frame


def test_a_wav_file_holds_every_frame_as_it_came(tmp_path: Path) -> None:
    path = tmp_path / "heard.wav"
    sink = open_audio_sink(str(path))
    assert isinstance(sink, WavSink)
    for value in (100, -200, 300):
        sink.play(stereo_frame(value))
    sink.close()
    with wave.open(str(path), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (48_000, 2, 2)
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
    assert pcm.tolist() == [100] * 1920 + [-200] * 1920 + [300] * 1920


def test_a_call_that_heard_nothing_leaves_a_valid_empty_wav(tmp_path: Path) -> None:
    path = tmp_path / "silent.wav"
    WavSink(path).close()
    with wave.open(str(path), "rb") as wav:
        assert wav.getnframes() == 0


def test_null_and_bad_specs() -> None:
    assert isinstance(open_audio_sink("null"), NullAudioSink)
    with pytest.raises(AudioSinkError, match=r"give null, speaker or a FILE\.wav"):
        open_audio_sink("out.mp3")
    with pytest.raises(AudioSinkError, match="does not exist"):
        open_audio_sink("/no/such/folder/x.wav")


@pytest.mark.skipif(ALSA_DEVICES.is_dir(), reason="this machine has a sound card")
def test_no_speaker_is_one_line() -> None:
    with pytest.raises(AudioSinkError) as raised:
        open_audio_sink("speaker")
    assert "no audio output device" in str(raised.value) and "\n" not in str(raised.value)
