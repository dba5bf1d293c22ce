from pathlib import Path

from experiments.sim.call import SimConfig, simulate
from experiments.sim.plot import plot_sim
from netem import generate


def test_plot_writes_png(tmp_path: Path) -> None:
    trace = generate.steps([(2.0, 1_000_000.0), (2.0, 400_000.0)])
    result = simulate(
        SimConfig(media_trace=trace, feedback_trace=trace, controller="fixed:300k", duration_s=4)
    )
    out = tmp_path / "p.png"
    plot_sim(result, out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
