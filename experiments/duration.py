"""`--duration S|full`: seconds per call, or `full`, each trace played whole.

A whole trace is its media direction's own length (one period of the file that carries the
media): ATT-LTE-driving 786 s, TMobile-UMTS-driving 928 s, Verizon-LTE-short 140 s.
"""

from __future__ import annotations

import argparse
import math

from experiments.link_spec import trace_files
from netem.trace import MS_PER_S, Trace
from netem.traces import resolve_trace

FULL = "full"


def parse_duration(text: str) -> float | None:
    """argparse type: positive seconds, or None for `full`."""
    if text.strip().lower() == FULL:
        return None
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration: give positive seconds or {FULL} (the whole trace)")
    return seconds


def trace_length_s(trace: Trace) -> float:
    return trace.period_ms / MS_PER_S


def full_length_s(trace: str) -> float:
    """Seconds of the trace that carries media in a real call over `trace` (name or file)."""
    media, _feedback = trace_files(trace)
    return trace_length_s(resolve_trace(media))


def call_duration_s(duration_s: float | None, trace: str) -> float:
    """A call's length over `trace`: the given seconds, or the whole media trace."""
    return full_length_s(trace) if duration_s is None else duration_s
