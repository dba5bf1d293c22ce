"""Where received sound goes (`--audio-sink`): nowhere, the speaker, or a WAV file.

The speaker is ALSA's `default` device through PyAV (the one audio output this machine's
stack has); without one, opening it fails at once with a one-line AudioSinkError. A WAV file
is written with the standard library's `wave`, in the format the first frame arrives in
(aiortc decodes Opus to 48 kHz stereo s16).
"""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Protocol

import av

SPEAKER_DEVICE = "default"
SPEAKER_FORMAT = "alsa"
SPEAKER_RATE = 48_000
ALSA_DEVICES = Path("/dev/snd")


class AudioSinkError(Exception):
    """An audio sink that cannot be opened; the message says what to do."""


class AudioSink(Protocol):
    def play(self, frame: av.AudioFrame) -> None: ...

    def close(self) -> None: ...


class NullAudioSink:
    def play(self, frame: av.AudioFrame) -> None:
        pass

    def close(self) -> None:
        pass


class WavSink:
    def __init__(self, path: Path) -> None:
        if not path.parent.is_dir():
            raise AudioSinkError(f"--audio-sink: folder {path.parent} does not exist")
        self.path = path
        self._file: wave.Wave_write | None = None
        self._shape: tuple[int, int] | None = None  # (rate, channels) of the first frame
        self.frames_written = 0
        try:  # open now: a path that cannot be written fails before the call
            self._file = wave.open(str(path), "wb")  # noqa: SIM115
        except OSError as exc:
            raise AudioSinkError(f"--audio-sink: cannot write {path}: {exc}") from None

    def play(self, frame: av.AudioFrame) -> None:
        if self._file is None:
            return
        if frame.format.name != "s16" or frame.format.is_planar:
            frame = av.AudioResampler(format="s16", layout=frame.layout,
                                      rate=frame.sample_rate).resample(frame)[0]
        shape = (frame.sample_rate, len(frame.layout.channels))
        if self._shape is None:
            self._shape = shape
            self._file.setframerate(shape[0])
            self._file.setnchannels(shape[1])
            self._file.setsampwidth(2)
        elif shape != self._shape:
            return  # a format change mid-call (a new stream): keep the file one format
        self._file.writeframes(bytes(frame.planes[0])[: frame.samples * shape[1] * 2])
        self.frames_written += 1

    def close(self) -> None:
        if self._file is not None:
            if self._shape is None:  # nothing arrived: still a valid (empty) WAV file
                self._file.setnchannels(1)
                self._file.setsampwidth(2)
                self._file.setframerate(48_000)
            self._file.close()
            self._file = None


class SpeakerSink:
    """Plays 48 kHz stereo (what aiortc's Opus decoder gives; anything else is converted)."""

    def __init__(self) -> None:
        if not ALSA_DEVICES.is_dir():  # ask ALSA only where a sound card can exist: it
            raise AudioSinkError(  # prints its own complaints about a missing one
                f"--audio-sink speaker: no audio output device ({ALSA_DEVICES} does not "
                "exist); use null or FILE.wav")
        try:
            self._container = av.open(SPEAKER_DEVICE, mode="w", format=SPEAKER_FORMAT)
            self._stream = self._container.add_stream("pcm_s16le", rate=SPEAKER_RATE,
                                                      layout="stereo")
            self._container.start_encoding()  # opens the device: fail now, not mid-call
        except (av.FFmpegError, OSError, ValueError) as exc:
            raise AudioSinkError(f"--audio-sink speaker: cannot open ALSA "
                                 f"'{SPEAKER_DEVICE}': {exc}; use null or FILE.wav") from None
        self._resampler = av.AudioResampler(format="s16", layout="stereo", rate=SPEAKER_RATE)

    def play(self, frame: av.AudioFrame) -> None:
        for out in self._resampler.resample(frame):
            out.pts = None  # the device plays what it is given, in order
            self._mux(out)

    def _mux(self, frame: av.AudioFrame) -> None:
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def close(self) -> None:
        self._container.close()


def open_audio_sink(spec: str) -> AudioSink:
    if spec == "null":
        return NullAudioSink()
    if spec == "speaker":
        return SpeakerSink()
    if spec.lower().endswith(".wav"):
        return WavSink(Path(spec))
    raise AudioSinkError(f"--audio-sink {spec}: give null, speaker or a FILE.wav")
