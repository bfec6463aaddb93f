"""The paper's Figure 4 from mcsim reach scans (same as `mcsim figure 4 --out analysis/figures`).

    python analysis/figure4.py [--events 16384] [--masses 40] [--couplings 100] [--workers 2]
                               [--scheduler ADDRESS]

Writes analysis/figures/figure4.png, figure4_grids.json and figure4_contours.{csv,json}.
"""

import sys
from pathlib import Path

from mcsim.cli.main import main

if __name__ == "__main__":
    out = Path(__file__).resolve().parent / "figures"
    main(["figure", "4", "--out", str(out), *sys.argv[1:]])
