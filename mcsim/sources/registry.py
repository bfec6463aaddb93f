"""The event source of a detector: its card names the production mechanism that feeds it
(``detector.source``), and this table names the class that makes it."""

from __future__ import annotations

from mcsim.models.registry import Model
from mcsim.sources.base import EventSource
from mcsim.sources.collider import Collisions
from mcsim.sources.mesons import MesonDecays

__all__ = ["SOURCES", "source_for"]

#: detector.source -> the EventSource class: ``cls(model, detector)``.
SOURCES: dict[str, type[MesonDecays] | type[Collisions]] = {
    "mesons": MesonDecays,
    "e+e-": Collisions,
}


def source_for(model: Model, detector) -> EventSource:
    """The event source of ``model`` in ``detector``; ValueError (one line) if the model is not
    made there (``model.productions``)."""
    if detector.source not in model.productions:
        raise ValueError(
            f"detector {detector.name}: its source ({SOURCES[detector.source].name}) does not "
            f"make the LLP of the {model.kind} model (made by: {', '.join(model.productions)})"
        )
    return SOURCES[detector.source](model, detector)
