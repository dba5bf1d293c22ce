"""The same-link check: a comparison is valid only if every controller's media crossed the
same trace file with the same capacity (DESIGN.md, "Measuring honestly").

Per trace folder, over every ok call (each repeat): the trace file the media crossed
(`media_trace`) must be one and the same, and the capacities (`media_capacity_kbps`, or
`capacity_kbps` where netem's totals are missing) within `CAPACITY_TOLERANCE` of each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from experiments.report.load import CallRun

CAPACITY_TOLERANCE = 0.02  # capacities within 2 % of each other count as the same link


@dataclass(frozen=True)
class LinkOfCall:
    label: str
    media_trace: str | None
    capacity_kbps: float | None


@dataclass(frozen=True)
class SameLink:
    """The check's verdict for one trace folder. `same` is None when the logs cannot tell."""

    same: bool | None
    message: str
    calls: tuple[LinkOfCall, ...]


def link_of(call: CallRun) -> LinkOfCall:
    s = call.summary
    if s is None:
        return LinkOfCall(call.label, None, None)
    capacity = s.media_capacity_kbps if s.media_capacity_kbps is not None else s.capacity_kbps
    return LinkOfCall(call.label, s.media_trace, capacity)


def check_same_link(calls: Sequence[CallRun]) -> SameLink:
    """Whether every ok call in `calls` crossed the same link (see the module docstring)."""
    links = tuple(link_of(c) for c in calls if c.status == "ok" and c.summary is not None)
    if len(links) < 2:
        return SameLink(True, "one call: nothing to compare", links)
    problems = []
    traces = {link.media_trace for link in links}
    if len(traces - {None}) > 1:
        named = ", ".join(f"{link.label}: {link.media_trace}" for link in links)
        problems.append(f"the media crossed different trace files ({named})")
    capacities = [link.capacity_kbps for link in links if link.capacity_kbps is not None]
    if capacities and min(capacities) > 0:
        spread = max(capacities) / min(capacities) - 1
        if spread > CAPACITY_TOLERANCE:
            named = ", ".join(f"{link.label}: {link.capacity_kbps:.0f}" for link in links
                              if link.capacity_kbps is not None)
            problems.append(f"media capacities differ by {100 * spread:.0f} % "
                            f"(kbit/s: {named}), more than {100 * CAPACITY_TOLERANCE:.0f} %")
    if problems:
        return SameLink(False, "NOT the same link: " + "; ".join(problems)
                        + ". The controllers did not face the same network; do not compare "
                        "them.", links)
    no_capacity = [link.label for link in links if link.capacity_kbps is None]
    if no_capacity:
        return SameLink(None, "cannot tell whether every call crossed the same link: no "
                        f"capacity recorded for {', '.join(no_capacity)}", links)
    within = f"capacities within {100 * CAPACITY_TOLERANCE:.0f} %"
    if None in traces:
        return SameLink(True, f"same link by capacity alone: {within} (not every summary "
                        "names the trace file the media crossed)", links)
    return SameLink(True, f"same link: every call's media crossed {next(iter(traces))}, "
                    f"{within}", links)
