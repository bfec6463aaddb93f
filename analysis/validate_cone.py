"""Full geometry vs the paper's cone approximation (same as `mcsim validate-cone`).

    python analysis/validate_cone.py [--delta 0.1] [--events 16384] [--workers 2]

Writes analysis/figures/validate_cone.png, validate_cone.{csv,md} and validate_cone_grids.json.
"""

import sys
from pathlib import Path

from mcsim.cli.main import main

if __name__ == "__main__":
    out = Path(__file__).resolve().parent / "figures"
    main(["validate-cone", "--out", str(out), *sys.argv[1:]])
