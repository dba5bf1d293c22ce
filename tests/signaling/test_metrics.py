from __future__ import annotations

import re

from signaling.metrics import Metrics

SAMPLE = re.compile(r'^[a-z_]+(\{[a-z]+="[^"\\\n]*(\\.[^"\\\n]*)*"\})? -?\d+(\.\d+)?$')


def test_render_is_prometheus_text() -> None:
    metrics = Metrics(connections_total=3, joins_total=2)
    metrics.relayed["offer"] += 2
    metrics.errors['we"ird\n'] += 1
    metrics.evictions["heartbeat"] += 1
    text = metrics.render({"signaling_connections": lambda: 5})
    assert text.endswith("\n")
    lines = text.splitlines()
    for line in lines:
        assert line.startswith("# HELP ") or line.startswith("# TYPE ") or SAMPLE.match(line), line
    assert "signaling_connections 5" in lines
    assert "# TYPE signaling_connections gauge" in lines
    assert "signaling_connections_total 3" in lines
    assert 'signaling_messages_relayed_total{type="offer"} 2' in lines
    assert 'signaling_errors_total{code="we\\"ird\\n"} 1' in lines
    assert 'signaling_evictions_total{reason="heartbeat"} 1' in lines
