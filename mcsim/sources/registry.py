"""The event source of a detector: its card names the production mechanism that feeds it
(``detector.source``), and this table names the class that makes it."""

from __future__ import annotations

from mcsim.models.registry import Model
from mcsim.sources.base import EventSource
from mcsim.sources.collider import Collisions
from mcsim.sources.mesons import MesonDecays

__all__ = ["SOURCES", "source_for"]

#: detector.source -> the EventSource class: ``cls(model, detector)``.
SOURCES = {"mesons": MesonDecays, "e+e-": Collisions}


def source_for(model: Model, detector) -> EventSource:
    """The event source of ``model`` in ``detector``."""
    return SOURCES[detector.source](model, detector)
