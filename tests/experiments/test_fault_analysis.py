"""The figures a fault costs, from hand-made logs of a 30 fps call with a 5 s outage."""

from experiments.fault_analysis import FaultWindow, measure, sending_kbps

FPS = 30
OUTAGE = FaultWindow(start_s=100.0, end_s=105.0)


def frame(frame_id: int, shown_at: float, keyframe: bool = False) -> dict:
    record = {"type": "shown", "frame_id": frame_id, "captured_at": frame_id / FPS,
              "shown_at": shown_at}
    if keyframe:
        record["keyframe"] = True
    return record


def rates(kbps_at: list[tuple[float, float]]) -> list[dict]:
    """Rate records every 0.25 s from 90 s to 125 s, sending at the rate of the last step."""
    records, total, t = [], 0.0, 90.0
    while t <= 125.0:
        kbps = [k for at, k in kbps_at if at <= t][-1]
        records.append({"type": "rate", "at": t, "bytes_sent": int(total)})
        total += kbps * 1000 / 8 * 0.25
        t += 0.25
    return records


def event(name: str, at: float, **fields: object) -> dict:
    return {"type": "event", "event": name, "at": at, **fields}


def test_an_outage_is_measured_from_both_logs() -> None:
    before = [frame(i, i / FPS + 0.05) for i in range(2970, 3000)]  # up to 100 s
    stale = [frame(3001, 105.02)]  # captured in the outage, delivered when the link came back
    after = [frame(i, i / FPS + 0.06) for i in range(3155, 3200)]  # from 105.17 s
    receiver = [*before, *stale, *after]
    sender = rates([(0, 2000.0), (100.0, 5.0), (105.5, 1000.0), (108.0, 1900.0)])
    cost = measure(OUTAGE, receiver, sender, floor_kbps=50.0)
    assert cost.recovery_s is not None and abs(cost.recovery_s - (3155 / FPS + 0.06 - 105)) < 1e-9
    assert cost.frames_lost == 3155 - 2999 - 1 - 1  # 3001 was shown
    assert cost.stale_frames == 1 and cost.stale_until_s is not None
    assert abs(cost.stale_until_s - 0.02) < 1e-9
    assert cost.floor_s is not None and 0.9 < cost.floor_s <= 1.0  # the 1 s window empties
    assert cost.rate_before_kbps is not None and abs(cost.rate_before_kbps - 2000) < 1
    assert cost.rate_back_s is not None and 3.5 < cost.rate_back_s <= 4.0  # 1 s mean >= 80 %
    assert cost.connection_lost_s is None and cost.restarts == 0


def test_consent_loss_restart_and_keyframe_are_found() -> None:
    receiver = [event("connection-lost", 130.0), event("pli", 141.0),
                frame(4300, 141.4, keyframe=True)]
    sender = [event("connection-lost", 131.0), event("restarted", 140.5)]
    cost = measure(FaultWindow(100.0, 135.0), receiver, sender, floor_kbps=50.0)
    assert cost.connection_lost_s == 30.0
    assert (cost.restarts, cost.restarted_s) == (1, 5.5)
    assert cost.keyframe_requests == 0  # the PLI came later than 2 s after the fault
    burst = measure(FaultWindow(140.9, 140.9), receiver, sender, floor_kbps=50.0)
    assert burst.keyframe_requests == 1
    assert burst.keyframe_s is not None and abs(burst.keyframe_s - 0.5) < 1e-9


def test_rates_need_records_that_cover_the_window() -> None:
    records = rates([(0, 800.0)])
    assert sending_kbps(records, 89.0) is None
    kbps = sending_kbps(records, 100.0)
    assert kbps is not None and abs(kbps - 800) < 1e-6
