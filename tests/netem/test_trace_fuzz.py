"""Fuzzing the trace loader: any file content gives a Trace or a TraceError whose message is
one line naming the file (and the line, when one line is at fault); nothing else escapes."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netem.trace import Trace, TraceError, load_trace

FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.too_slow,
                                       HealthCheck.function_scoped_fixture])

token = st.one_of(
    st.integers(0, 5000).map(str),
    st.integers(-5, 10**25).map(str),
    st.sampled_from(["", " ", "\t", "+3", "-0", "1.5", "1e3", "0x10", "nan", "١٢", "\x00",
                     "\x0b", "\x0c", "9" * 30, "é", "\ufeff1"]),
    st.text(max_size=6),
)
line_end = st.sampled_from(["\n", "\r\n", "\r", "\n\n", " \n", "\x0b", "\x0c", "\x1c", "\x85"])


@st.composite
def trace_text(draw: st.DrawFn) -> bytes:
    lines = draw(st.lists(st.tuples(token, line_end), max_size=30))
    text = "".join(t + e for t, e in lines).encode("utf-8", errors="replace")
    if draw(st.booleans()):  # a few raw bytes anywhere
        i = draw(st.integers(0, len(text)))
        text = text[:i] + draw(st.binary(max_size=4)) + text[i:]
    return text


def check(path: Path, content: bytes) -> None:
    path.write_bytes(content)
    try:
        trace = load_trace(path)
    except TraceError as exc:
        message = str(exc)
        assert "\n" not in message and "\r" not in message, message
        assert message.startswith(str(path)), message
        return
    assert isinstance(trace, Trace)
    ops = trace.opportunities_ms
    assert ops.size >= 1 and ops[0] >= 0 and bool(np.all(np.diff(ops) >= 0))
    assert trace.period_ms == int(ops[-1]) > 0


@FUZZ
@given(trace_text())
def test_structured_text_gives_a_trace_or_a_one_line_error(tmp_path: Path,
                                                           content: bytes) -> None:
    check(tmp_path / "t.trace", content)


@FUZZ
@given(st.binary(max_size=300))
def test_any_bytes_give_a_trace_or_a_one_line_error(tmp_path: Path, content: bytes) -> None:
    check(tmp_path / "b.trace", content)


@FUZZ
@given(st.lists(st.integers(0, 10**6), min_size=1, max_size=50), st.integers(0, 60))
def test_a_mutated_valid_trace_names_the_line_at_fault(tmp_path: Path, values: list[int],
                                                       where: int) -> None:
    values = sorted(values)
    if values[-1] == 0:
        values[-1] = 1
    lines = [str(v) for v in values]
    bad = where % len(lines)
    lines[bad] = "x" + lines[bad]
    path = tmp_path / "m.trace"
    path.write_text("\n".join(lines) + "\n")
    try:
        load_trace(path)
    except TraceError as exc:
        assert re.match(rf"{re.escape(str(path))}:{bad + 1}: ", str(exc)), str(exc)
    else:
        raise AssertionError("a line holding 'x...' was accepted")


def test_huge_numbers_are_a_trace_error_naming_their_line(tmp_path: Path) -> None:
    """numpy's parser saturated 10^30 to 2^63 - 1 and the trace was accepted; the slow path
    raised OverflowError when it made the array."""
    path = tmp_path / "huge.trace"
    for text in ("1\n" + "9" * 30 + "\n", "+1\n" + "9" * 19 + "\n"):
        path.write_text(text)
        try:
            load_trace(path)
        except TraceError as exc:
            assert str(exc).startswith(f"{path}:2: ") and "too large" in str(exc)
        else:
            raise AssertionError(f"{text!r} was accepted")
