"""Where shown frames go. The window and file sinks come with the media pipeline."""

from __future__ import annotations

import av


class NullSink:
    """Shows nothing: for measurements and tests."""

    def show(self, frame: av.VideoFrame) -> None:
        pass

    def close(self) -> None:
        pass
