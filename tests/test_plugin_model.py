"""A third model as one module, added the documented way (an entry point of the group
``mcsim.models``, as a plug-in package declares it; docs/cards.md): `mcsim info`, `generate`
(ROOT and HepMC3), `cutflow` and `reach` run with it, and the HepMC3 file carries its own PDG
IDs.  The plug-in lives outside the mcsim package, so no numba kernel is recompiled for it."""

import json
import os
import subprocess
import sys
import textwrap

import pyhepmc
import pytest

pytestmark = pytest.mark.slow

# The plug-in: an inelastic pair X (long-lived) and Y (stable) made in phi and J/psi decays
# through a coupling g [GeV^-1], X -> Y gamma; PDG IDs of its own (hidden-valley range).
PLUGIN = '''
"""Toy inelastic pair: V -> X Y (BR ~ g^2), X -> Y gamma (width ~ g^2)."""
import math
from dataclasses import dataclass, replace

from mcsim.models.channels import Channel
from mcsim.models.registry import ModelKind, Parameter, Particles
from mcsim.physics.constants import HBARC_GEV_M
from mcsim.physics.particles import sm
from mcsim.runtime.validate import MASS

PDG_X, PDG_Y = 4900023, 4900022
BR_PER_G2 = {333: 2.0e3, 443: 5.0e4}  # BR(V -> X Y) / g^2 [GeV^2]


@dataclass(frozen=True)
class Inelastic:
    m_x: float
    d: float
    kind = "toy-inelastic"
    coupling_power = 2.0
    coupling_unit = "GeV^-1"
    dirac = False
    productions = ("mesons",)

    @property
    def llp_mass(self):
        return self.m_x

    @property
    def invisible_mass(self):
        return 0.9 * self.m_x

    @property
    def width(self):
        return self.d**2 * (self.m_x**2 - self.invisible_mass**2) ** 3 / (2 * math.pi * self.m_x**3)

    @property
    def ctau(self):
        return HBARC_GEV_M / self.width

    @property
    def particles(self):
        return Particles(llp=PDG_X, partner=PDG_Y, decay=(PDG_Y, 22))

    def with_coupling(self, d):
        return replace(self, d=d)

    def channels(self):
        out = []
        for v, per_g2 in BR_PER_G2.items():
            meson = sm(v)
            masses = (self.invisible_mass, self.llp_mass)
            is_open = sum(masses) < meson.mass
            br = per_g2 * self.d**2 if is_open else 0.0
            out.append(Channel(v, f"{meson.name} -> Y X", "two-body", ("invisible", "llp"),
                               meson.mass, masses, is_open, br * meson.width, br))
        return out

    def describe(self):
        return {"model": self.kind, "m_x": self.m_x, "d": self.d}


KIND = ModelKind(
    name="toy-inelastic",
    summary="X -> Y gamma",
    parameters=(Parameter("m_x", "X mass [GeV]", range=MASS),),
    build=lambda d, m_x: Inelastic(m_x=m_x, d=d),
    mass_parameter="m_x",
    mass_label="M_X [GeV]",
    coupling_label="g [GeV^-1]",
    coupling_range=(1e-8, 1e-2),
    family_name=lambda fixed: "toy inelastic pair",
)
'''


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory):
    """An environment whose Python finds the plug-in module and its distribution metadata."""
    site = tmp_path_factory.mktemp("site")
    (site / "toy_inelastic.py").write_text(textwrap.dedent(PLUGIN))
    dist = site / "toy_inelastic-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-inelastic\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[mcsim.models]\ntoy-inelastic = toy_inelastic:KIND\n")
    path = os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}


def _mcsim(env, *args, cwd) -> str:
    run = subprocess.run(
        [sys.executable, "-m", "mcsim.cli.main", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    return run.stdout


def test_a_plugin_model_runs_through_every_command(plugin_env, tmp_path):
    point = ["--model", "toy-inelastic", "--m-x", "0.3"]
    info = json.loads(_mcsim(plugin_env, "info", *point, "--d", "1e-5", "--json", cwd=tmp_path))
    assert info["channels"]["333"]["br"] == pytest.approx(2.0e3 * 1e-10, rel=1e-12)
    assert info["ctau_m"] > 0

    generate = ["generate", *point, "--d", "1e-5", "--detector", "na62", "--seed", "1"]
    _mcsim(plugin_env, *generate, "--events", "40000", "-o", "x.root", "--quiet", cwd=tmp_path)
    flow = json.loads(_mcsim(plugin_env, "cutflow", "x.root", "--json", cwd=tmp_path))
    assert flow["expected_events"] > 0

    _mcsim(plugin_env, *generate, "--events", "4000", "-o", "x.hepmc3", "--quiet", cwd=tmp_path)
    with pyhepmc.open(str(tmp_path / "x.hepmc3")) as f:
        events = list(f)
    assert events
    for event in events:
        (llp,) = [p for p in event.particles if p.pid == 4900023]
        assert sorted(p.pid for p in llp.end_vertex.particles_out) == [22, 4900022]
        assert {abs(p.pid) for p in llp.production_vertex.particles_out} == {4900022, 4900023}
        assert not {9900052, 52} & {abs(p.pid) for p in event.particles}

    reach = ["reach", "--model", "toy-inelastic", "--detector", "na62", "--masses", "3"]
    reach += ["--couplings", "9", "--mass-range", "0.2", "0.6", "--workers", "1"]
    _mcsim(plugin_env, *reach, "--out", "reach", "--no-progress", cwd=tmp_path)
    grids = json.loads((tmp_path / "reach" / "grid.json").read_text())
    assert grids[0]["metadata"]["model"] == "toy-inelastic"
    assert max(max(row) for row in grids[0]["events"]) > 0
