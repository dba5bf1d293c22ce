"""Server counters, rendered in the Prometheus text exposition format (version 0.0.4)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


@dataclass
class Metrics:
    connections_total: int = 0
    joins_total: int = 0
    relayed: Counter[str] = field(default_factory=Counter)  # by message type
    errors: Counter[str] = field(default_factory=Counter)  # by error or close code
    evictions: Counter[str] = field(default_factory=Counter)  # by reason

    def render(self, gauges: dict[str, Callable[[], int]]) -> str:
        """The exposition text; `gauges` maps a metric name to a function giving its value."""
        lines: list[str] = []

        def family(name: str, kind: str, help_text: str) -> None:
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} {kind}")

        descriptions = {
            "signaling_connections": "WebSocket connections open now",
            "signaling_rooms": "rooms with at least one member on this server",
        }
        for name, value in gauges.items():
            family(name, "gauge", descriptions.get(name, name))
            lines.append(f"{name} {value()}")
        family("signaling_connections_total", "counter", "WebSocket connections accepted")
        lines.append(f"signaling_connections_total {self.connections_total}")
        family("signaling_joins_total", "counter", "successful joins")
        lines.append(f"signaling_joins_total {self.joins_total}")
        for name, label, counts, help_text in (
            ("signaling_messages_relayed_total", "type", self.relayed,
             "client messages relayed to other members"),
            ("signaling_errors_total", "code", self.errors, "refusals, by error or close code"),
            ("signaling_evictions_total", "reason", self.evictions,
             "members removed by the server"),
        ):
            family(name, "counter", help_text)
            for key in sorted(counts):
                lines.append(f'{name}{{{label}="{_escape(key)}"}} {counts[key]}')
        return "\n".join(lines) + "\n"
