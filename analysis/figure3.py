"""The paper's Figure 3 from mcsim reach scans (same as `mcsim figure 3 --out analysis/figures`).

    python analysis/figure3.py [--events 16384] [--masses 40] [--couplings 100] [--workers 2]
                               [--scheduler ADDRESS]

Writes analysis/figures/figure3.png, figure3_grids.json and figure3_contours.{csv,json}.
"""

import sys
from pathlib import Path

from mcsim.cli.main import main

if __name__ == "__main__":
    out = Path(__file__).resolve().parent / "figures"
    main(["figure", "3", "--out", str(out), *sys.argv[1:]])
