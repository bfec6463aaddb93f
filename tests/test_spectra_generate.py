"""Tests of mcsim.sources.pythia: reproducible tables, local vs Dask, bad cards."""

from __future__ import annotations

import json
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pythia8mc")

from mcsim.sources.pythia import chunk_seeds, generate_tables, read_card
from mcsim.sources.spectra import load_table

#: A cheap card (70 GeV SoftQCD) for the tiny runs.
CARD = "u70_softqcd"
TINY = {"events": 100, "chunk_events": 50, "seed": 5}


def _tables(directory: Path) -> dict[str, tuple]:
    out = {}
    for path in sorted(directory.glob("*/*.npz")):
        t = load_table(path.stem, path.parent.name, directory=directory)
        out[path.name] = (t.counts, t.n_positive, t.meta)
    return out


def _assert_identical(a: dict, b: dict) -> None:
    assert a.keys() == b.keys() and len(a) == 7
    for name in a:
        assert np.array_equal(a[name][0], b[name][0]) and a[name][1:] == b[name][1:]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reference")
    generate_tables(CARD, out_dir=out, **TINY)
    return out


def test_shipped_cards_parse():
    """Every card the installed package ships (mcsim.generators, not the repository's
    generators/) parses, found by its shipped name."""
    shipped = resources.files("mcsim.generators")
    names = sorted(
        p.name.removesuffix(".cmnd") for p in shipped.iterdir() if p.name.endswith(".cmnd")
    )
    assert CARD in names and "sps400_charm" in names and "lhc14_beauty" in names
    for name in names:
        card = read_card(name)
        assert card.name == name and card.beam == name.split("_")[0]


def test_regenerated_table_is_identical(reference, tmp_path):
    generate_tables(CARD, out_dir=tmp_path, **TINY)
    _assert_identical(_tables(reference), _tables(tmp_path))
    t = load_table("pi0", "u70", directory=tmp_path)
    assert t.meta["events"] == 100 and t.meta["seed"] == 5 and t.meta["chunks"] == 2
    assert t.meta["card"] == CARD and t.meta["pythia_version"] == "8.317"
    # the raw file bytes are reproducible too (fixed zip dates)
    for path in tmp_path.glob("*/*.npz"):
        assert path.read_bytes() == (reference / path.parent.name / path.name).read_bytes()


def test_other_seed_gives_other_table(reference, tmp_path):
    generate_tables(CARD, out_dir=tmp_path, **{**TINY, "seed": 6})
    a = load_table("pi0", "u70", directory=reference).counts
    assert not np.array_equal(a, load_table("pi0", "u70", directory=tmp_path).counts)


@pytest.mark.slow
def test_local_processes_and_dask_give_identical_tables(reference, tmp_path):
    distributed = pytest.importorskip("distributed")
    generate_tables(CARD, out_dir=tmp_path / "local", workers=2, **TINY)
    _assert_identical(_tables(reference), _tables(tmp_path / "local"))
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        generate_tables(
            CARD, out_dir=tmp_path / "dask", scheduler=cluster.scheduler_address, **TINY
        )
    _assert_identical(_tables(reference), _tables(tmp_path / "dask"))


def test_chunk_seeds_are_deterministic_and_in_pythia_range():
    seeds = chunk_seeds(400, 50)
    assert seeds == chunk_seeds(400, 50) and seeds[:10] == chunk_seeds(400, 10)
    assert len(set(seeds)) == 50 and all(1 <= s <= 900_000_000 for s in seeds)


GOOD = """! mcsim beam = u70
! mcsim mesons = pi0
! mcsim kind = physical
Beams:frameType = 2
Beams:eA = 70.
Beams:eB = 0.
SoftQCD:all = on
"""


@pytest.mark.parametrize(
    "text, problem",
    [
        (GOOD + "Foo:bar = 3\n", "line 8 .*unknown PYTHIA8 setting 'Foo:bar'"),
        (GOOD + "SoftQCD:all = maybe\n", "line 8 .*flag SoftQCD:all needs on/off"),
        (GOOD + "Beams:eA = abc\n", "line 8 .*parameter Beams:eA needs a number"),
        (GOOD + "Beams:frameType = 2.5\n", "line 8 .*mode Beams:frameType needs an integer"),
        (GOOD + "SoftQCD\n", "line 8 .*malformed setting"),
        (GOOD + "99999999:mayDecay = off\n", "line 8 .*PYTHIA8 rejects this setting"),
        (GOOD + "Random:seed = 3\n", "line 8 .*set by mcsim"),
        (GOOD.replace("eA = 70.", "eA = 400."), "beam 'u70' needs Beams:eA = 70"),
        (GOOD.replace("beam = u70", "beam = tevatron"), "unknown beam 'tevatron'"),
        (GOOD.replace("pi0", "kaon"), "unknown meson 'kaon'"),
        (GOOD.replace("! mcsim kind = physical\n", ""), "missing directive '! mcsim kind"),
        (GOOD + "! mcsim colour = blue\n", "line 8: malformed directive"),
    ],
)
def test_bad_cards_name_file_and_problem_and_write_nothing(tmp_path, text, problem):
    card = tmp_path / "bad.cmnd"
    card.write_text(text)
    out = tmp_path / "tables"
    with pytest.raises(ValueError, match=f"{card}.*{problem}"):
        generate_tables(card, out_dir=out, events=10)
    assert not out.exists()


def test_card_that_fails_to_initialise_writes_nothing(tmp_path):
    card = tmp_path / "noprocess.cmnd"
    card.write_text(GOOD.replace("SoftQCD:all = on", "SoftQCD:all = off"))
    with pytest.raises(ValueError, match=f"{card}: PYTHIA8 failed to initialise"):
        generate_tables(card, out_dir=tmp_path / "tables", events=10)
    assert not (tmp_path / "tables").exists()


def test_missing_card_and_missing_pythia(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="no_such_card not found"):
        read_card("no_such_card")
    monkeypatch.setitem(sys.modules, "pythia8mc", None)
    with pytest.raises(ValueError, match=r"needs PYTHIA8: pip install 'mcsim\[pythia\]'"):
        read_card(CARD)


def test_spectra_generate_writes_to_the_user_directory(tmp_path, monkeypatch):
    """Without --out, generated tables go to $XDG_DATA_HOME/mcsim/tables."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    paths = generate_tables("u70_softqcd", events=60, chunk_events=30, seed=5)
    assert paths and all(p.is_relative_to(tmp_path / "mcsim" / "tables") for p in paths)
    meta = json.loads(str(np.load(paths[0])["meta"]))
    assert meta["events"] == 60
