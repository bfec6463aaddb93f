"""--tables DIR: tables written elsewhere replace the shipped ones where DIR has them."""

import json

import numpy as np
from click.testing import CliRunner

from mcsim import spectra
from mcsim.cli import main


def _doubled_table(directory):
    """The shipped pi0 table of sps400 with every count doubled, written under ``directory``."""
    src = spectra.table_path("pi0", "sps400")
    with np.load(src) as npz:
        data = {k: npz[k] for k in npz.files}
    data["counts"] = data["counts"] * 2
    out = directory / "sps400"
    out.mkdir(parents=True)
    np.savez(out / "pi0.npz", **data)
    return spectra.load_table("pi0", "sps400").multiplicity


def _multiplicity(output, beam, meson):
    for line in output.splitlines():
        words = line.split()
        if words[:2] == [beam, meson]:
            return float(words[3])
    raise AssertionError(f"{beam} {meson} not listed")


def test_tables_option_replaces_only_the_tables_it_has(tmp_path, monkeypatch):
    monkeypatch.delenv(spectra.TABLES_ENV, raising=False)
    shipped = _doubled_table(tmp_path)
    runner = CliRunner()
    plain = runner.invoke(main, ["spectra", "list"])
    assert _multiplicity(plain.output, "sps400", "pi0") == float(f"{shipped:.4g}")
    res = runner.invoke(main, ["spectra", "list", "--tables", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert _multiplicity(res.output, "sps400", "pi0") == float(f"{2 * shipped:.4g}")
    assert _multiplicity(res.output, "sps400", "eta") == _multiplicity(
        plain.output, "sps400", "eta"
    )
    assert spectra.load_table("pi0", "sps400").multiplicity == 2 * shipped  # env set by --tables
    monkeypatch.delenv(spectra.TABLES_ENV)
    assert spectra.load_table("pi0", "sps400").multiplicity == shipped


def test_missing_tables_directory_is_refused(tmp_path):
    res = CliRunner().invoke(main, ["spectra", "list", "--tables", str(tmp_path / "nope")])
    assert res.exit_code == 2 and "--tables" in res.output


def test_spectra_generate_writes_to_the_user_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert spectra.user_tables_directory() == tmp_path / "mcsim" / "tables"
    import importlib.util

    if importlib.util.find_spec("pythia8mc") is None:
        return
    from mcsim.spectra_generate import generate

    paths = generate("u70_softqcd", events=60, chunk_events=30, seed=5)
    assert paths and all(p.is_relative_to(tmp_path / "mcsim" / "tables") for p in paths)
    meta = json.loads(str(np.load(paths[0])["meta"]))
    assert meta["events"] == 60
