"""mcsim.read: awkward records with vector fields, equal to the branches, physically sound."""

import awkward as ak
import numpy as np
import pytest
import uproot
from references import MASS_TOLERANCE, mass_shell_violation

import mcsim
from mcsim import NeutrinoDipole
from mcsim.generation.write import write_events
from mcsim.io.events import MOMENTA, iterate

POINT = NeutrinoDipole(m_n=0.3, d=1e-6, flavour="e")


@pytest.fixture(scope="module")
def path(tmp_path_factory):
    out = tmp_path_factory.mktemp("events") / "nu.root"
    write_events(POINT, "na62", out, n_events=6_000, seed=11, chunk_size=700, keep="all")
    return out


def test_read_gives_momentum4d_records_equal_to_the_branches(path):
    events = mcsim.read(path)
    with uproot.open(path) as f:
        branches = f["events"].arrays(library="np")
    assert len(events) == len(branches["event"])
    for name in MOMENTA:
        assert events[name].layout.parameter("__record__") == "Momentum4D"
        for comp in ("E", "px", "py", "pz"):
            np.testing.assert_array_equal(
                ak.to_numpy(events[name][comp]), branches[f"{name}_{comp}"]
            )
    np.testing.assert_array_equal(ak.to_numpy(events.vertex.z), branches["vertex_z"])
    np.testing.assert_array_equal(ak.to_numpy(events.weight), branches["weight"])
    assert events.attrs["metadata"]["model"] == POINT.describe()


def test_vector_behaviour_and_conservation(path):
    """LLP mass from vector; LLP -> nu gamma conserves 4-momentum; massless photon."""
    ev = mcsim.read(path)
    np.testing.assert_allclose(ak.to_numpy(ev.llp.mass), POINT.m_n, rtol=1e-6)
    diff = ev.llp - ev.decay_invisible - ev.photon
    scale = ak.to_numpy(ev.llp.E)
    for comp in ("E", "px", "py", "pz"):
        assert np.all(np.abs(ak.to_numpy(getattr(diff, comp))) <= 1e-9 * scale)
    photon = np.column_stack([ak.to_numpy(ev.photon[c]) for c in ("E", "px", "py", "pz")])
    assert mass_shell_violation(photon, 0.0) < MASS_TOLERANCE
    # the photon's polar angle (what the cutflow plots) is arccos(pz / |p|), computed here
    theta = np.arccos(photon[:, 3] / np.linalg.norm(photon[:, 1:], axis=1))
    np.testing.assert_allclose(ak.to_numpy(ev.photon.theta), theta, rtol=1e-12, atol=1e-15)


def test_charged_channels_fill_the_lepton(path):
    ev = mcsim.read(path)
    charged = np.isin(np.abs(ak.to_numpy(ev.mother_pdgid)), (321, 411, 431, 521))
    assert charged.any() and (~charged).any()
    lepton_e = ak.to_numpy(ev.lepton.E)
    assert np.all(lepton_e[charged] > 0) and np.all(lepton_e[~charged] == 0)
    # N-bar from P-: the sign of the mother follows is_antiparticle in charged channels
    anti = ak.to_numpy(ev.is_antiparticle)
    np.testing.assert_array_equal(ak.to_numpy(ev.mother_pdgid)[charged] < 0, anti[charged])


def test_iterate_and_entry_range_agree_with_read(path):
    whole = mcsim.read(path)
    parts = list(mcsim.iterate(path, step_size=2_500))
    assert mcsim.iterate is iterate
    assert [len(p) for p in parts] == [2_500, 2_500, 1_000]
    joined = ak.concatenate(parts)
    assert ak.all(joined.event == whole.event)
    np.testing.assert_array_equal(ak.to_numpy(joined.photon.E), ak.to_numpy(whole.photon.E))
    some = mcsim.read(path, entry_start=100, entry_stop=200)
    np.testing.assert_array_equal(ak.to_numpy(some.event), np.arange(100, 200))
