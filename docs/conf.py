"""Sphinx configuration of the mcsim documentation (build: sphinx-build -W -b html docs
docs/_build/html).  The ntuple schema and the card list are generated from the code at build
time, so they cannot drift from it."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # the build draws nothing on screen (library code never sets a backend)

from mcsim import __version__

project = "mcsim"
author = "mcsim developers"
release = __version__
extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.viewcode"]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build", "_generated"]  # generated pages are included, not built alone
html_theme = "furo"
html_title = f"mcsim {__version__}"
myst_heading_anchors = 3
autodoc_member_order = "bysource"
autodoc_typehints = "description"
suppress_warnings = ["myst.header"]  # the generated schema page starts at H2 (included)
nitpicky = False

_GENERATED = Path(__file__).parent / "_generated"


def _write_generated() -> None:
    """The schema page and the card list, from mcsim itself."""
    from mcsim.cli.detectors import describe
    from mcsim.detector.cards import available_detectors, load_detector
    from mcsim.io.rootio import schema_markdown

    _GENERATED.mkdir(exist_ok=True)
    (_GENERATED / "schema.md").write_text(schema_markdown())
    lines = []
    for name in available_detectors():
        lines += ["```text", *describe(load_detector(name)), "```", ""]
    (_GENERATED / "cards.md").write_text("\n".join(lines))


_write_generated()
