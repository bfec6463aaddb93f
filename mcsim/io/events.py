"""Events as awkward records with ``vector`` fields: ``mcsim.read(path)``.

Each kept event (see ``--keep``) is a record with the 4-momenta ``meson, llp, invisible,
prompt_photon, lepton, decay_invisible, photon`` as ``Momentum4D`` (px, py, pz, E [GeV]; zero
vectors for particles the channel does not have), ``vertex`` as ``Vector3D`` and ``impact``
as ``Vector2D`` [m], and every other branch of the file as a scalar field (``event, channel,
mother_pdgid, weight, ...``).  The file's metadata is in ``events.attrs["metadata"]``.

    >>> events = mcsim.read("na62.root")
    >>> events.photon.E, events.photon.theta, events.vertex.z, events.weight
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import awkward as ak
import uproot
import vector

from mcsim.io.rootio import EVENTS_TREE, branches_of, read_metadata
from mcsim.io.schema import ARRAYS

__all__ = ["MOMENTA", "iterate", "read", "to_records"]

vector.register_awkward()

#: Record fields holding a Momentum4D, as stored in the file's branches ``<name>_E`` etc.
MOMENTA = tuple(k[3:] for k in ARRAYS if k.startswith("p4_"))


def _vector(columns, names, fields, with_name: str) -> ak.Array:
    return ak.zip({f: columns[n] for f, n in zip(fields, names)}, with_name=with_name)


def to_records(columns, metadata: dict | None = None) -> ak.Array:
    """Flat branch columns (a dict of arrays or an awkward record array, as uproot reads them)
    -> event records with vector fields."""
    fields = {"event": columns["event"]}
    for key in ARRAYS:
        names = branches_of(key)
        if key.startswith("p4_"):
            fields[key[3:]] = _vector(columns, names, ("E", "px", "py", "pz"), "Momentum4D")
        elif key == "vertex":
            fields[key] = _vector(columns, names, ("x", "y", "z"), "Vector3D")
        elif key == "impact":
            fields[key] = _vector(columns, names, ("x", "y"), "Vector2D")
        else:
            for name in names:
                fields[name] = columns[name]
    attrs = {"metadata": metadata} if metadata is not None else None
    return ak.zip(fields, depth_limit=1, attrs=attrs)


def read(
    path: str | Path, *, entry_start: int | None = None, entry_stop: int | None = None
) -> ak.Array:
    """The events of an mcsim ROOT file (entries [entry_start, entry_stop), all by default) as
    an awkward Array of records with ``Momentum4D`` fields; metadata in ``.attrs["metadata"]``.
    Everything is read into memory: use :func:`iterate` for large files."""
    metadata = read_metadata(path)
    with uproot.open(path) as file:
        columns = file[EVENTS_TREE].arrays(
            library="np", entry_start=entry_start, entry_stop=entry_stop
        )
    return to_records(columns, metadata)


def iterate(path: str | Path, *, step_size: int | str = 200_000) -> Iterator[ak.Array]:
    """The events of an mcsim ROOT file as records (as :func:`read`), ``step_size`` events at a
    time (or a memory size such as ``"100 MB"``, as uproot takes it): memory stays bounded.

        >>> for chunk in mcsim.iterate("na62.root", step_size=100_000):
        ...     total += ak.sum(chunk.weight[chunk.photon.E > 2.0])"""
    metadata = read_metadata(path)
    with uproot.open(path) as file:
        for columns in file[EVENTS_TREE].iterate(step_size=step_size, library="np"):
            yield to_records(columns, metadata)
