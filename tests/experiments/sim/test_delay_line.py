from experiments.sim.delay_line import DelayLine


def test_items_come_out_when_due_in_order() -> None:
    line: DelayLine[str] = DelayLine()
    assert line.next_time() is None and line.pop_due(1e9) == []
    line.push("b", 20.0)
    line.push("a", 10.0)
    line.push("c", 20.0)
    assert line.next_time() == 10.0 and len(line) == 3
    assert line.pop_due(9.9) == []
    assert line.pop_due(10.0) == [(10.0, "a")]
    assert line.pop_due(25.0) == [(20.0, "b"), (20.0, "c")]  # ties keep insertion order
    assert line.next_time() is None
