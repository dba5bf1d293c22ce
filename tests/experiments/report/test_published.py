from experiments.report.published import published_points


def test_only_the_papers_traces_get_points() -> None:
    att = published_points("ATT-LTE-driving")
    assert [(p.system, p.signal_delay_ms_p95, p.ssim_db_mean) for p in att] == [
        ("Salsify-1c", 449.0, 15.4), ("WebRTC (2017)", 4730.0, 13.4)]
    assert published_points("/x/traces/TMobile-UMTS-driving.down")[1].signal_delay_ms_p95 == 8686
    assert published_points("Verizon-LTE-short") == ()
    assert published_points("ATT-LTE-driving-2016.down") == ()
