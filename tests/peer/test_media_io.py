"""Sources other than the pattern, sinks, and the Y4M export."""

import asyncio
import subprocess
from pathlib import Path

import av
import pytest

from experiments.processes import child_env, python_command
from peer.camera_source import CameraSource
from peer.clock import Clock
from peer.file_source import FileSource, SourceError
from peer.sink import FileSink, SinkError, open_sink
from peer.stamp import read_stamp
from peer.testpattern import render_i420
from peer.y4m import export_test_pattern


def test_y4m_export_carries_the_stamped_frames(tmp_path: Path) -> None:
    path = tmp_path / "p.y4m"
    export_test_pattern(path, frames=12)
    with av.open(str(path)) as container:
        ids = [read_stamp(f.to_ndarray(format="gray")) for f in container.decode(video=0)]
    assert ids == list(range(12))


def test_file_source_loops_and_paces(tmp_path: Path) -> None:
    path = tmp_path / "p.y4m"
    export_test_pattern(path, frames=5, fps=50)

    async def grab(n: int) -> tuple[FileSource, list]:
        source = FileSource(path, Clock())
        frames = [await source.capture() for _ in range(n)]
        source.close()
        return source, frames

    source, frames = asyncio.run(grab(12))
    assert (source.width, source.height, source.fps) == (640, 480, 50.0)
    assert [read_stamp(f.image[:480]) for f in frames] == [0, 1, 2, 3, 4] * 2 + [0, 1]
    assert frames[-1].captured_at - frames[0].captured_at >= 11 / 50 - 0.01


def test_unreadable_sources_are_one_line_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all")

    async def open_them() -> None:
        clock = Clock()
        with pytest.raises(SourceError, match="does not exist"):
            FileSource(tmp_path / "missing.mp4", clock)
        with pytest.raises(SourceError, match="cannot read video"):
            FileSource(junk, clock)
        with pytest.raises(SourceError, match="cannot open camera"):
            CameraSource(clock, "/dev/video-that-is-not-there")

    asyncio.run(open_them())


def test_peer_refuses_a_missing_file_at_start() -> None:
    result = subprocess.run(
        python_command("peer", "--signaling", "ws://127.0.0.1:9/ws", "--room", "r",
                       "--source", "/no/such/file.mp4"),
        capture_output=True, text=True, env=child_env(), timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip() == ("peer: video file /no/such/file.mp4 does not exist; "
                                     "give a readable file")


@pytest.mark.parametrize("suffix", [".y4m", ".mp4"])
def test_file_sink_writes_what_was_shown(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"out{suffix}"
    sink = open_sink(str(path))
    assert isinstance(sink, FileSink)
    for n in range(10):
        sink.show(av.VideoFrame.from_ndarray(render_i420(n), format="yuv420p"))
    sink.close()
    with av.open(str(path)) as container:
        ids = [read_stamp(f.to_ndarray(format="gray")) for f in container.decode(video=0)]
    assert ids == list(range(10))


def test_sink_in_a_missing_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SinkError, match="does not exist"):
        open_sink(str(tmp_path / "nope" / "out.y4m"))
