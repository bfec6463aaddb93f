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


@dataclass(frozen=True)
class Family:
    """A one-parameter (mass) family of models: the kind named ``model`` (see
    :func:`mcsim.models.registry.get`) with its mass parameter varied and the others fixed --
    ``delta`` and ``flavour`` (the dipoles': the dark dipole at fixed delta, mass = M1, or the
    neutrino dipole of one flavour, mass = M_N) or any parameter in ``params`` ((name, value)
    pairs); a fixed parameter not given takes the kind's scan default."""

    model: str
    delta: float | None = None
    flavour: str | None = None
    params: tuple[tuple[str, object], ...] = ()

    @classmethod
    def of(cls, model: str, fixed: dict) -> Family:
        """The family of kind ``model`` with the fixed parameters ``fixed`` (name -> value)."""
        rest = {k: v for k, v in fixed.items() if k not in ("delta", "flavour")}
        return cls(model, fixed.get("delta"), fixed.get("flavour"), tuple(sorted(rest.items())))

    @property
    def kind(self):
        """The :class:`mcsim.models.registry.ModelKind` of the family."""
        return registry.get(self.model)

    @property
    def fixed(self) -> dict:
        """The fixed parameters given (name -> value)."""
        given = dict(self.params)
        given.update(
            {k: v for k, v in (("delta", self.delta), ("flavour", self.flavour)) if v is not None}
        )
        return given

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
