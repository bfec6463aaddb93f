"""Regression anchors: expected events at four benchmark points, pinned with their Monte Carlo
error in tests/data/anchors.toml (read by tests/test_anchors.py).

    python tests/anchors.py      # rewrite tests/data/anchors.toml after an INTENDED change

Only rewrite the file for a change of physics or normalisation that you mean, and say so in the
commit message: the anchors exist so that an unintended change anywhere fails a test.
"""

from __future__ import annotations

from pathlib import Path

from mcsim import DarkDipole, NeutrinoDipole
from mcsim.generation.simulate import simulate

FILE = Path(__file__).resolve().parent / "data" / "anchors.toml"
N_EVENTS = 100_000
SEED = 2024

#: name -> (model, detector card)
POINTS = {
    "na62_dark": (DarkDipole(m1=0.1, delta=0.1, d=1e-6), "na62"),
    "ship_neutrino_mu": (NeutrinoDipole(m_n=0.3, d=1e-6, flavour="mu"), "ship"),
    "faser2_dark": (DarkDipole(m1=0.3, delta=0.1, d=3e-6), "faser2"),
    "bebc_dark_recast": (DarkDipole(m1=0.1, delta=0.1, d=1e-5), "bebc"),
}


def expected(name: str):
    """The expected events (an Estimate) of anchor ``name``."""
    model, card = POINTS[name]
    return simulate(model, card, n_events=N_EVENTS, seed=SEED).expected_events()


def main() -> None:
    lines = [
        "# Expected signal events at the benchmark points of tests/anchors.py",
        f"# ({N_EVENTS} events per channel, seed {SEED}); written by python tests/anchors.py",
        "",
    ]
    for name in POINTS:
        e = expected(name)
        lines.append(f"{name} = {{ events = {float(e)!r}, stat_error = {e.stat_error!r} }}")
        print(lines[-1])
    FILE.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
