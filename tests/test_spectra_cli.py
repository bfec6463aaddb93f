"""`mcsim spectra list/show` on the shipped tables, and --tables DIR: tables written elsewhere
replace the shipped ones where DIR has them, and a damaged one there is refused."""

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import generate_argv

from mcsim.cli.main import main
from mcsim.sources import spectra


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
    # setenv (not delenv of an unset variable, which records nothing) so that monkeypatch
    # restores the variable's original state after --tables has set it in this process
    monkeypatch.setenv(spectra.TABLES_ENV, "")
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


def _shipped_arrays(meson):
    with np.load(spectra.table_path(meson, "sps400")) as npz:
        return {k: npz[k] for k in npz.files}


def _write_pi0_as_rho(path):
    np.savez(path, **_shipped_arrays("pi0"))


def _write_counts_only(path):
    np.savez(path, counts=_shipped_arrays("rho")["counts"])


@pytest.mark.parametrize(
    "damage, reason",
    [
        (lambda path: path.write_bytes(b"not a zip archive"), None),
        (_write_pi0_as_rho, "it holds pdgid 111, beam 'sps400'"),
        (
            _write_counts_only,
            "missing arrays ['log10p_edges', 'log10theta_edges', 'n_positive', 'meta']",
        ),
    ],
    ids=["not-npz", "other-meson", "missing-arrays"],
)
def test_generate_refuses_a_damaged_table_in_tables_dir(tmp_path, monkeypatch, damage, reason):
    """A table in --tables DIR that generate needs (rho at NA62's sps400 beam) but cannot use
    is refused by mcsim's own check: one line on stderr naming the file and what is wrong
    with it, exit status 2, no output file and no .part file.  Without the damaged file the
    same command runs: DIR lacking a table falls back to the shipped one (so neither the
    option itself nor the directory is what is refused)."""
    monkeypatch.setenv(spectra.TABLES_ENV, "")  # restored after --tables sets it in-process
    tables = tmp_path / "tables"
    (tables / "sps400").mkdir(parents=True)
    table = tables / "sps400" / "rho.npz"
    damage(table)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "x.root"
    argv = generate_argv(channels="rho", events=700, seed=1, o=out, quiet=True, tables=tables)
    res = CliRunner().invoke(main, argv)
    assert res.exit_code == 2, res.output
    assert res.stdout == ""
    lines = res.stderr.splitlines()
    assert len(lines) == 1, res.stderr
    prefix = f"mcsim: error: corrupt spectrum table {table.resolve()}: "
    assert lines[0].startswith(prefix), lines[0]
    if reason is not None:
        assert lines[0] == prefix + reason
    assert list(out_dir.iterdir()) == []
    table.unlink()
    res = CliRunner().invoke(main, argv)
    assert res.exit_code == 0, res.output
    assert out.is_file() and list(out_dir.iterdir()) == [out]


def test_user_tables_directory_follows_xdg_data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert spectra.user_tables_directory() == tmp_path / "mcsim" / "tables"


def test_cli_list_show_and_errors(tmp_path):
    """spectra list / show read the shipped tables only: no PYTHIA8 needed."""
    runner = CliRunner()
    listing = runner.invoke(main, ["spectra", "list"])
    assert listing.exit_code == 0 and "sps400   pi0" in listing.output
    assert _multiplicity(listing.output, "sps400", "pi0") == pytest.approx(4.3, rel=0.15)  # Table 1
    png = tmp_path / "pi0.png"
    shown = runner.invoke(main, ["spectra", "show", "pi0", "--beam", "sps400", "--png", str(png)])
    assert shown.exit_code == 0 and "per collision" in shown.output
    assert png.read_bytes().startswith(b"\x89PNG")
    bad = runner.invoke(main, ["spectra", "show", "kaon", "--beam", "sps400"])
    assert bad.exit_code == 2 and "unknown meson 'kaon'" in bad.output


def test_list_says_shape_for_hard_process_tables_and_explains_the_column():
    res = CliRunner().invoke(main, ["spectra", "list"])
    assert res.exit_code == 0, res.output
    rows = [line.split() for line in res.output.splitlines()[1:] if line.startswith("sps400")]
    kinds = {words[1]: (words[3], words[-1]) for words in rows}
    assert kinds["jpsi"] == ("shape", "shape") and kinds["psi2S"] == ("shape", "shape")
    assert kinds["pi0"][1] == "physical" and float(kinds["pi0"][0]) > 1
    assert all(per == "shape" for per, kind in kinds.values() if kind == "shape")
    assert res.output.splitlines()[-1].startswith("per coll.: mesons per collision")
