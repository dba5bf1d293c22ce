import json

from peer.metrics import SUMMARY_KEYS, MetricsLog, ShownFrame, stall_ms_total, summarize


def frames(shown_at_ms: list[float], delay_ms: float = 50.0) -> list[ShownFrame]:
    return [ShownFrame(frame_id=i, captured_at=(t - delay_ms) / 1000, shown_at=t / 1000,
                       bytes=1000, ssim_db=12.0, psnr_db=35.0)
            for i, t in enumerate(shown_at_ms)]


def test_summary_has_every_design_key() -> None:
    summary = summarize(frames([0, 33, 66]), duration_s=1.0)
    assert set(SUMMARY_KEYS) <= set(summary)


def test_delay_percentiles_and_rates() -> None:
    shown = [i * 33.3 for i in range(31)]
    summary = summarize(frames(shown, 80.0), duration_s=1.0, frames_sent=31)
    assert abs(summary["delay_ms_p50"] - 80.0) < 1e-6
    assert abs(summary["delay_ms_p95"] - 80.0) < 1e-6
    assert summary["fps_shown"] == 31.0  # frames shown per second of call
    assert summary["goodput_kbps"] == 31 * 1000 * 8 / 1000
    assert summary["ssim_db_mean"] == 12.0


def test_stalls_count_gaps_over_200_ms() -> None:
    assert stall_ms_total([0, 0.1, 0.3, 0.8, 0.85]) == 500.0
    assert stall_ms_total([0, 0.2, 0.4]) == 0.0


def test_empty_call() -> None:
    summary = summarize([], duration_s=10.0)
    assert summary["frames_shown"] == 0 and summary["delay_ms_p95"] is None


def test_log_is_flushed_line_by_line(tmp_path) -> None:
    path = tmp_path / "m.jsonl"
    log = MetricsLog(path)
    log.write(frames([0])[0].to_json())
    line = json.loads(path.read_text())  # readable before close
    assert line["type"] == "shown" and line["delay_ms"] == 50.0 and line["frame_id"] == 0
    log.close()
