"""`--source` names: testpattern, clip:NAME, camera[:DEVICE], or a video file; and the content
a receiver renders to score what a stamped source sent."""

from __future__ import annotations

from peer.camera_source import CameraSource
from peer.clip_source import clip_name, load_clip
from peer.clock import Clock
from peer.file_source import FileSource, SourceError
from peer.source import ClockedSource, Content, FrameSource, SourceClock, TestPatternSource
from peer.testpattern import DEFAULT_FPS, TestPattern, pattern

TESTPATTERN = TestPattern.kind


def open_source(spec: str, clock: Clock) -> FrameSource:
    """Open the named source, stamping capture on `clock` (the call's); SourceError (one line)
    when it cannot be used."""
    if spec == TESTPATTERN:
        return TestPatternSource(clock)
    name = clip_name(spec)
    if name is not None:
        clip = load_clip(name)
        return ClockedSource(clip, clip.fps, clock)
    if spec == "camera" or spec.startswith("camera:"):
        device = spec.partition(":")[2] or "0"
        return CameraSource(clock, int(device) if device.isdigit() else device)
    return FileSource(spec, clock)


def stamped_content(kind: str, width: int, height: int) -> Content:
    """The content a stamped source of this kind and size sends; SourceError if unknown here."""
    name = clip_name(kind)
    if name is not None:
        content: Content = load_clip(name)
    elif kind == TESTPATTERN:
        content = pattern(width, height)
    else:
        raise SourceError(f"the other side sends {kind!r}, which this peer cannot render; "
                          "update this peer or send testpattern")
    if (content.width, content.height) != (width, height):
        raise SourceError(f"the other side sends {kind} at {width}x{height}, but here it is "
                          f"{content.width}x{content.height}; install the same clips on both")
    return content


def remote_clock(spec: str, loop_frames: int) -> SourceClock:
    """What a receiver assumes of a sender that plays the exported `spec` looping every
    `loop_frames` frames without announcing it (a browser's file camera)."""
    name = clip_name(spec)
    if name is not None:
        clip = load_clip(name)
        return SourceClock(None, clip.fps, clip.width, clip.height, clip.kind, loop_frames)
    if spec != TESTPATTERN:
        raise SourceError(f"a remote source must be testpattern or clip:NAME, not {spec!r}")
    content = pattern()
    return SourceClock(None, DEFAULT_FPS, content.width, content.height, TESTPATTERN,
                       loop_frames)


def check_stamped_source(spec: str) -> None:
    """A source an experiment can score: testpattern, or clip:NAME decodable here;
    SourceError (one line) otherwise."""
    name = clip_name(spec)
    if name is not None:
        load_clip(name)
    elif spec != TESTPATTERN:
        raise SourceError(f"source {spec!r}: experiments send testpattern or clip:NAME, "
                          "whose every frame the receiver can score")
