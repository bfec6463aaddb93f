"""Strict JSON (RFC 8259) for every file and output of mcsim: no ``Infinity`` or ``NaN``.

:func:`dumps` writes an infinite float as the string ``"inf"`` or ``"-inf"`` and NaN as
``null``; numpy scalars and arrays become numbers and lists.  :func:`loads` turns the strings
``"inf"`` and ``"-inf"`` back into floats (and still accepts the non-standard ``Infinity`` of
files written before).  :func:`write` replaces a file only when it is complete.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from mcsim.io.partfiles import atomic_path

__all__ = ["dumps", "loads", "read", "strict", "write"]

_REVIVE = {"inf": math.inf, "-inf": -math.inf}


def strict(obj):
    """``obj`` with non-finite floats replaced (inf -> 'inf', -inf -> '-inf', NaN -> None),
    numpy values as Python ones, tuples as lists."""
    if isinstance(obj, np.ndarray):
        obj = obj.tolist()
    elif isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        if math.isnan(obj):
            return None
        if math.isinf(obj):
            return "inf" if obj > 0 else "-inf"
        return obj
    if isinstance(obj, dict):
        return {k if isinstance(k, str) else str(strict(k)): strict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict(v) for v in obj]
    return obj


def _revive(obj):
    if isinstance(obj, str):
        return _REVIVE.get(obj, obj)
    if isinstance(obj, dict):
        return {k: _revive(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_revive(v) for v in obj]
    return obj


def dumps(obj, **kwargs) -> str:
    """Strict JSON text of ``obj`` (keyword arguments as for :func:`json.dumps`)."""
    return json.dumps(strict(obj), allow_nan=False, **kwargs)


def loads(text: str):
    """The object of JSON ``text``, with 'inf' / '-inf' strings as floats."""
    return _revive(json.loads(text))


def write(path: str | Path, obj, **kwargs) -> Path:
    """Write ``obj`` as strict JSON to ``path`` (complete or not at all).  Returns the path."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(dumps(obj, **kwargs))
    return path


def read(path: str | Path):
    """The object in the JSON file ``path`` (see :func:`loads`)."""
    return loads(Path(path).read_text())
