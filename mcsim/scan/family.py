"""A one-parameter (mass) family of models, as the reach scans and their plots name it: light
(no numba), so that a command can parse it and a plotting process unpickle it cheaply."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mcsim.models import registry

if TYPE_CHECKING:
    from mcsim.models.registry import Model

__all__ = ["D_REF", "Family"]

#: Coupling at which samples are generated [GeV^-1]; any value works (exact re-weighting).
D_REF = 1e-5


@dataclass(frozen=True, init=False)
class Family:
    """A one-parameter (mass) family of models: the kind named ``model`` (see
    :func:`mcsim.models.registry.get`) with its mass parameter varied and the others fixed by
    keyword (``Family("dark-dipole", delta=0.1)``); a fixed parameter not given (or None) takes
    the kind's scan default.  ``params``: the given ones as sorted (name, value) pairs."""

    model: str
    params: tuple[tuple[str, object], ...]

    def __init__(self, model: str, **fixed: object):
        object.__setattr__(self, "model", model)
        given = ((k, v) for k, v in fixed.items() if v is not None)
        object.__setattr__(self, "params", tuple(sorted(given)))

    @classmethod
    def of(cls, model: str, fixed: dict) -> Family:
        """The family of kind ``model`` with the fixed parameters ``fixed`` (name -> value)."""
        return cls(model, **fixed)

    @property
    def kind(self):
        """The :class:`mcsim.models.registry.ModelKind` of the family."""
        return registry.get(self.model)

    @property
    def fixed(self) -> dict:
        """The fixed parameters given (name -> value)."""
        return dict(self.params)

    def at(self, mass: float, d: float = D_REF) -> Model:
        """The model at ``mass`` [GeV] and coupling ``d`` [the kind's coupling unit]."""
        return self.kind.family_at(mass, d, self.fixed)

    @property
    def tag(self) -> str:
        """The fixed parameters as ``name=value`` (e.g. ``delta=0.1``): a label in data files."""
        return ", ".join(
            f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.fixed.items()
        )

    @property
    def name(self) -> str:
        kind = self.kind
        fixed = {p.name: self.fixed.get(p.name, p.scan_default) for p in kind.parameters}
        return kind.family_name(fixed)
