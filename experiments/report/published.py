"""Salsify's published points (NSDI 2018, Figure 1 and its companions), shown beside ours.

They were measured on other content (Salsify's 720p60 video), on another machine, over each
whole trace, with Salsify's own definitions of p95 delay and SSIM: a reference, never a
comparison on equal terms. Only the traces the paper used get them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CAVEAT = "published, other content and machine"


@dataclass(frozen=True)
class PublishedPoint:
    system: str
    signal_delay_ms_p95: float
    ssim_db_mean: float


PUBLISHED: dict[str, tuple[PublishedPoint, ...]] = {
    "ATT-LTE-driving": (PublishedPoint("Salsify-1c", 449.0, 15.4),
                        PublishedPoint("WebRTC (2017)", 4_730.0, 13.4)),
    "TMobile-UMTS-driving": (PublishedPoint("Salsify-1c", 3_907.0, 13.2),
                             PublishedPoint("WebRTC (2017)", 8_686.0, 11.5)),
}


def _base_name(trace: str) -> str:
    name = Path(trace).name
    for suffix in (".down", ".up"):
        name = name.removesuffix(suffix)
    return name


def published_points(trace: str) -> tuple[PublishedPoint, ...]:
    """The paper's points for `trace` (a name, a pair's file or a path), else ()."""
    return PUBLISHED.get(_base_name(trace), ())
