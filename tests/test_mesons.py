"""SM masses and widths: the particle package's, kept in a cache file between runs."""

import pytest
from particle import Particle

import mcsim.physics.particles as particles


def test_masses_and_widths_are_the_pdg_values_in_gev():
    """PDG 2024: m(pi0) = 134.9768 MeV, m(J/psi) = 3096.900 MeV, Gamma(J/psi) = 92.6 keV."""
    assert particles.sm(111).mass == pytest.approx(0.1349768, rel=1e-7)
    jpsi = particles.sm(443)
    assert jpsi.mass == pytest.approx(3.0969, rel=1e-6)
    assert jpsi.width == pytest.approx(92.6e-6, rel=0.02)
    assert particles.sm(11).width == 0.0  # stable: no width in the table


def test_a_later_run_reads_the_cache_without_the_table(tmp_path, monkeypatch):
    """The first look-up stores (name, mass, width); with the table made unusable, a new process
    (sm's memo cleared) gets the same particle from the file; a damaged entry or an unwritable
    cache directory only means asking the table again."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    particles.sm.cache_clear()
    first = particles.sm(221)
    assert list(tmp_path.glob("mcsim/particles-*.json"))
    particles.sm.cache_clear()
    monkeypatch.setattr(Particle, "from_pdgid", None)  # calling it would raise
    assert particles.sm(221) == first
    monkeypatch.undo()
    cached = next(tmp_path.glob("mcsim/particles-*.json"))
    cached.write_text('{"221": "damaged"}')
    particles.sm.cache_clear()
    assert particles.sm(221) == first  # asked the table again
    (tmp_path / "a-file").write_text("")  # no directory can be made under it, even by root
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "a-file" / "x"))
    particles.sm.cache_clear()
    assert particles.sm(221) == first
    particles.sm.cache_clear()


def test_a_cached_value_does_not_import_the_particle_package(tmp_path):
    """With the value in the cache file, a new process never imports `particle` (0.03 s);
    without it, it does (the check can fail)."""
    import os
    import subprocess
    import sys

    code = "import sys; from mcsim.physics import particles; particles.sm(221); print('particle' in sys.modules)"
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}

    def imported() -> str:
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
        return run.stdout.strip()

    assert imported() == "True"  # the first run fills the cache from the table
    assert imported() == "False"
