"""The paper's Figure 2 from mcsim reach scans (same as `mcsim figure 2 --out analysis/figures`).

    python analysis/figure2.py [--events 16384] [--masses 40] [--couplings 100] [--workers 2]
                               [--scheduler ADDRESS]

Writes analysis/figures/figure2.png, figure2_grids.json and figure2_contours.{csv,json}.
"""

import sys
from pathlib import Path

from mcsim.cli.main import main

if __name__ == "__main__":
    out = Path(__file__).resolve().parent / "figures"
    main(["figure", "2", "--out", str(out), *sys.argv[1:]])
