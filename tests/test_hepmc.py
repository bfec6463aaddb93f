"""HepMC3 output: read back by pyhepmc, the same events as the ROOT file of the same seed."""

import errno
import os
import subprocess
import sys

import numpy as np
import pyhepmc
import pytest
from click.testing import CliRunner
from conftest import generate_argv

from mcsim import DarkDipole, NeutrinoDipole
from mcsim.cli.main import main
from mcsim.generation.write import output_format, write_events
from mcsim.io import partfiles
from mcsim.io.hepmc import WEIGHT_NAMES, HepMCWriter
from mcsim.io.rootio import read_arrays
from mcsim.models.dipoles import PDG_CHI1, PDG_CHI2, PDG_N

KW = dict(n_events=10_000, seed=3, chunk_size=4_000)


def _read(path):
    with pyhepmc.open(path) as f:
        return list(f)


def _p4(particle):
    m = particle.momentum
    return (m.e, m.px, m.py, m.pz)


GEV, MM = pyhepmc.Units.GEV, pyhepmc.Units.MM


@pytest.fixture(scope="module", params=["dark", "neutrino"])
def pair(request, tmp_path_factory):
    d = tmp_path_factory.mktemp("hepmc")
    # dark: every one of the 1e4 events (--keep all); neutrino: the selected ones (default)
    point, keep = (
        (DarkDipole(m1=0.1, delta=0.1, d=1e-6), "all")
        if request.param == "dark"
        else (NeutrinoDipole(m_n=0.3, d=1e-6, flavour="mu"), "selected")
    )
    write_events(point, "na62", d / "ev.root", keep=keep, **KW)
    write_events(point, "na62", d / "ev.hepmc3", keep=keep, **KW)
    return request.param, read_arrays(d / "ev.root", None), _read(d / "ev.hepmc3"), d


def test_same_events_momenta_vertices_and_weights_as_the_root_file(pair):
    model, a, events, _ = pair
    assert (
        len(events)
        == len(a["weight"])
        == (KW["n_events"] if model == "dark" else int(a["above_threshold"].sum()))
        > 50
    )
    from mcsim.io.rootio import iterate

    numbers = next(iterate(pair[3] / "ev.root", ["event"], step_size=10**7))
    h = _columns(events)
    np.testing.assert_array_equal(h["event"], numbers["event"])
    assert h["units_gev_mm"].all()
    assert (h["meson_status"] == 2).all()
    np.testing.assert_array_equal(h["meson_pid"], a["mother_pdgid"])
    for name in ("p4_meson", "p4_llp", "p4_photon", "p4_decay_invisible"):
        np.testing.assert_array_equal(h[name], a[name], err_msg=name)
    assert (np.abs(h["llp_pid"]) == (PDG_CHI2 if model == "dark" else PDG_N)).all()
    xyz, t = h["position"][:, :3], h["position"][:, 3]
    np.testing.assert_allclose(xyz, 1000.0 * a["vertex"], rtol=1e-15)
    beta = np.linalg.norm(a["p4_llp"][:, 1:], axis=1) / a["p4_llp"][:, 0]
    np.testing.assert_allclose(t, 1000.0 * np.linalg.norm(a["vertex"], axis=1) / beta, rtol=1e-12)
    assert np.all(t >= np.linalg.norm(xyz, axis=1))  # nothing faster than light
    # 4-momentum conservation at both vertices (independent of the ROOT file)
    assert np.all(np.abs(h["balance"]) <= 1e-9 * h["p4_meson"][:, :1, None])
    assert h["weight_names_ok"].all()
    np.testing.assert_array_equal(h["weights"], np.column_stack([a[n] for n in WEIGHT_NAMES]))
    np.testing.assert_array_equal(h["weight"], a["weight"])
    np.testing.assert_array_equal(h["selected"], a["above_threshold"].astype(int))


def _columns(events):
    """The numbers the test compares, read from every HepMC event in one pass, as arrays."""
    names = list(WEIGHT_NAMES)
    cols = {}

    def put(key, value):
        cols.setdefault(key, []).append(value)

    for ev in events:
        production, decay = ev.vertices
        (meson,) = production.particles_in
        (llp,) = decay.particles_in
        out = {p.pid: p for p in decay.particles_out}
        (inv,) = [p for pid, p in out.items() if pid != 22]
        pos = decay.position
        put("event", ev.event_number)
        put("units_gev_mm", (ev.momentum_unit, ev.length_unit) == (GEV, MM))
        put("meson_status", meson.status)
        put("meson_pid", meson.pid)
        put("llp_pid", llp.pid)
        put("p4_meson", _p4(meson))
        put("p4_llp", _p4(llp))
        put("p4_photon", _p4(out[22]))
        put("p4_decay_invisible", _p4(inv))
        put("position", (pos.x, pos.y, pos.z, pos.t))
        put(
            "balance",
            [
                np.sum([_p4(p) for p in v.particles_out], axis=0)
                - np.sum([_p4(p) for p in v.particles_in], axis=0)
                for v in (production, decay)
            ],
        )
        put("weight_names_ok", ev.weight_names == names)
        put("weights", list(ev.weights))
        put("weight", ev.weight("weight"))
        put("selected", ev.attributes["selected"].astype(int))
    return {k: np.array(v) for k, v in cols.items()}


def test_production_products_and_pdg_codes(pair):
    model, a, events, _ = pair
    for i, ev in enumerate(events[:300]):
        production = ev.vertices[0]
        pids = sorted(p.pid for p in production.particles_out)
        charged = abs(a["mother_pdgid"][i]) in (321, 411, 431, 521)
        if model == "dark":
            assert set(pids) - {22} == {PDG_CHI1, PDG_CHI2}
            assert (22 in pids) == (a["p4_prompt_photon"][i][0] > 0)
        elif charged:  # P+ -> l+ N gamma: charge conserved, lepton number too
            (lep,) = [p for p in production.particles_out if abs(p.pid) == 13]
            assert np.sign(-lep.pid) == np.sign(a["mother_pdgid"][i])
            np.testing.assert_array_equal(_p4(lep), a["p4_lepton"][i])
        else:  # N nubar or Nbar nu
            (nu,) = [p for p in production.particles_out if abs(p.pid) == 14]
            (n,) = [p for p in production.particles_out if abs(p.pid) == PDG_N]
            assert np.sign(nu.pid) == -np.sign(n.pid)


def test_run_info_names_the_model_point(pair):
    model, _, events, _ = pair
    info = events[0].run_info
    assert info.weight_names == list(WEIGHT_NAMES)
    assert info.tools[0].name == "mcsim"
    attrs = info.attributes  # read back unparsed: astype gives the value

    def get(key, kind):
        return attrs[key].astype(kind)

    assert get("model", str) == ("dark-dipole" if model == "dark" else "neutrino-dipole")
    assert get("d_inv_gev", float) == 1e-6 and get("detector", str) == "na62:1e18"
    assert get("n_generated", int) == KW["n_events"]
    if model == "dark":
        assert get("m1", float) == 0.1 and get("delta", float) == 0.1
    else:
        assert get("flavour", str) == "mu" and get("m_n", float) == 0.3


def test_format_from_suffix_and_cli(tmp_path):
    assert output_format("a.hepmc3") == output_format("a.HepMC") == "hepmc3"
    assert output_format("a.root") == output_format("a.dat") == "root"
    assert output_format("a.dat", "hepmc3") == "hepmc3"
    assert output_format("a.hepmc", "hepmc3") == "hepmc3"
    with pytest.raises(ValueError, match=r"--format hepmc3: the output a\.root has the suffix"):
        output_format("a.root", "hepmc3")
    with pytest.raises(ValueError, match="format must be one of"):
        output_format("a.root", "lhe")
    out = tmp_path / "x.dat"
    argv = generate_argv(d="1e-5", events=700, seed=1, format="hepmc3", o=out, quiet=True)
    res = CliRunner().invoke(main, argv)
    assert res.exit_code == 0, res.output
    assert out.read_text().startswith("HepMC::Version")
    assert [p.name for p in tmp_path.iterdir()] == ["x.dat"]


def _dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


SMALL = dict(n_events=2_000, seed=5, chunk_size=1_000, keep="all")
POINT = DarkDipole(m1=0.1, delta=0.1, d=1e-6)


def test_hepmc_part_file_is_named_after_its_writer_and_dead_writers_files_go(tmp_path, monkeypatch):
    """The HepMC3 writer writes to a partfiles ``.part`` name (host and PID of its process), and
    removes the ``.part`` file a writer killed outright (a process that no longer exists) left
    in the directory, as the ROOT writer does."""
    stale = tmp_path / f".ev.hepmc3.{partfiles._host()}.{_dead_pid()}.0123abcd.part"
    stale.write_bytes(b"HepMC::Version 3\n" + b"x" * 2_000_000)  # a SIGKILLed writer's
    seen = []
    extend = HepMCWriter.extend

    def spy(self, arrays, events):
        seen.append(self._tmp)
        assert not stale.exists()  # removed before the first event is written
        extend(self, arrays, events)

    monkeypatch.setattr(HepMCWriter, "extend", spy)
    write_events(POINT, "na62", tmp_path / "ev.hepmc3", **SMALL)
    match = partfiles.PATTERN.match(seen[0].name)
    assert match and match["name"] == "ev.hepmc3" and int(match["pid"]) == os.getpid()
    assert match["host"] == partfiles._host() and seen[0].parent == tmp_path
    assert [p.name for p in tmp_path.iterdir()] == ["ev.hepmc3"]
    assert len(_read(tmp_path / "ev.hepmc3")) == SMALL["n_events"]


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_close_failing_on_a_full_disk_leaves_no_file(tmp_path, monkeypatch, when):
    """The final close fails with ENOSPC (before pyhepmc flushed anything, or after it wrote
    the whole file): the error is raised, and neither the output nor a ``.part`` file stays."""
    close = pyhepmc.io.HepMCFile.close

    def failing_close(self):
        if when == "after":
            close(self)
        _enospc()

    monkeypatch.setattr(pyhepmc.io.HepMCFile, "close", failing_close)
    with pytest.raises(OSError) as info:
        write_events(POINT, "na62", tmp_path / "ev.hepmc3", **SMALL)
    assert info.value.errno == errno.ENOSPC
    assert list(tmp_path.iterdir()) == []


def test_a_write_failing_on_a_full_disk_leaves_no_file(tmp_path, monkeypatch):
    """A write fails with ENOSPC after some events, and so does the close on the way out: the
    write's error is raised (not the close's), and no file stays (removed before the close)."""
    extend, calls = HepMCWriter.extend, []

    def extend_then_fail(self, arrays, events):
        calls.append(len(events))
        if len(calls) > 1:
            assert self._tmp.stat().st_size > 0
            _enospc()
        extend(self, arrays, events)

    def failing_close(self):
        assert not any(tmp_path.iterdir())  # the .part file went first
        raise OSError(errno.EIO, "close failed too")

    monkeypatch.setattr(HepMCWriter, "extend", extend_then_fail)
    monkeypatch.setattr(pyhepmc.io.HepMCFile, "close", failing_close)
    with pytest.raises(OSError) as info:
        write_events(POINT, "na62", tmp_path / "ev.hepmc3", **SMALL)
    assert info.value.errno == errno.ENOSPC and len(calls) == 2
    assert list(tmp_path.iterdir()) == []
