"""What `--audio` sends: the marked tone, the microphone, a sound file (looped), or nothing.

The tone is peer.audio_tone's. The microphone is ALSA's `default` device through aiortc's
MediaPlayer (PyAV's ALSA input: the one audio input this machine's stack has). A file is
decoded whole when the call starts (at most `MAX_FILE_S` of it), so a file that cannot be
decoded is refused before the call, by name, and playing it costs no decoder thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.contrib.media import MediaPlayer
from aiortc.mediastreams import MediaStreamError

from peer.audio_tone import (
    FRAME_SAMPLES,
    SAMPLE_RATE,
    PacedAudioTrack,
    ToneTrack,
    pcm_frame,
)

MAX_FILE_S = 600.0
MIC_DEVICE = "default"
MIC_FORMAT = "alsa"
ALSA_DEVICES = Path("/dev/snd")


class AudioSourceError(Exception):
    """An audio source that cannot be opened; the message says what to do."""


def open_audio_source(spec: str, t0: float | None = None,
                      wall_s: Callable[[], float] = time.time) -> MediaStreamTrack | None:
    """The track `--audio spec` sends (None for `none`). `t0`: the tone's timeline start,
    the video source's t0 when it has one (see peer.audio_tone); `wall_s`: the call's clock."""
    if spec == "none":
        return None
    if spec == "tone":
        return ToneTrack(t0, wall_s)
    if spec == "mic":
        return open_microphone()
    return FileAudioTrack(Path(spec), wall_s)


def open_microphone() -> MediaStreamTrack:
    if not ALSA_DEVICES.is_dir():  # ask ALSA only where a sound card can exist: it prints
        raise AudioSourceError(  # its own complaints about a missing one
            f"--audio mic: no microphone ({ALSA_DEVICES} does not exist); "
            "use --audio tone or --audio FILE")
    try:
        player = MediaPlayer(MIC_DEVICE, format=MIC_FORMAT)
    except (av.FFmpegError, OSError) as exc:
        raise AudioSourceError(f"--audio mic: no microphone (ALSA '{MIC_DEVICE}': {exc}); "
                               "use --audio tone or --audio FILE") from None
    if player.audio is None:
        raise AudioSourceError(f"--audio mic: ALSA '{MIC_DEVICE}' gives no sound; "
                               "use --audio tone or --audio FILE")
    return player.audio


def decode_file(path: Path) -> np.ndarray:
    """The file's sound as 48 kHz mono s16 (at most MAX_FILE_S), or AudioSourceError naming
    the file."""
    if not path.is_file():
        raise AudioSourceError(f"--audio: sound file {path} does not exist; give a readable "
                               "file, or tone, mic or none")
    resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    chunks: list[np.ndarray] = []
    total = 0
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise AudioSourceError(f"--audio: {path} has no sound track")
            for frame in container.decode(container.streams.audio[0]):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
                    total += out.samples
                if total >= MAX_FILE_S * SAMPLE_RATE:
                    break
    except (av.FFmpegError, UnicodeDecodeError) as exc:
        raise AudioSourceError(f"--audio: cannot decode sound from {path}: {exc}") from None
    if total == 0:
        raise AudioSourceError(f"--audio: {path} holds no sound that decodes")
    return np.concatenate(chunks).astype(np.int16)


class SessionAudioTrack(MediaStreamTrack):
    """One session's view of the call's sound source: aiortc stops a sender's track when its
    session closes, and the source must carry on into the next session (a restart)."""

    kind = "audio"

    def __init__(self, source: MediaStreamTrack) -> None:
        super().__init__()
        self.source = source

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        frame = await self.source.recv()
        assert isinstance(frame, av.AudioFrame)
        return frame


class FileAudioTrack(PacedAudioTrack):
    """A decoded sound file, looped, paced to the wall clock in 20 ms frames."""

    def __init__(self, path: Path, wall_s: Callable[[], float] = time.time) -> None:
        super().__init__(wall_s=wall_s)
        self.path = path
        pcm = decode_file(path)
        pad = -len(pcm) % FRAME_SAMPLES  # whole frames: the loop stays on the frame grid
        self._pcm = np.concatenate([pcm, np.zeros(pad, dtype=np.int16)])

    def frame(self, index: int) -> av.AudioFrame:
        start = index * FRAME_SAMPLES % len(self._pcm)
        return pcm_frame(self._pcm[start:start + FRAME_SAMPLES], index * FRAME_SAMPLES)
