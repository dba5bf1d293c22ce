"""`--source` names: testpattern, camera[:DEVICE], or a video file."""

from __future__ import annotations

from peer.camera_source import CameraSource
from peer.file_source import FileSource
from peer.source import FrameSource, TestPatternSource


def open_source(spec: str) -> FrameSource:
    """Open the named source; SourceError (one line) when it cannot be used."""
    if spec == "testpattern":
        return TestPatternSource()
    if spec == "camera" or spec.startswith("camera:"):
        device = spec.partition(":")[2] or "0"
        return CameraSource(int(device) if device.isdigit() else device)
    return FileSource(spec)
