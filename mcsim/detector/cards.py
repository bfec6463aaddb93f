"""Detectors read from TOML cards: decay volume, calorimeter face, selection, exposure.

A card is plain data (read with ``tomllib``, never evaluated), one file per experiment in the
top-level ``detectors/`` directory (installed as the package ``mcsim.detectors``).  Cards are
found by name (``load_detector("na62")``) or by path (``load_detector("./my.toml")``).

Named configurations: a card may hold ``[configurations.<label>]`` tables, each overriding keys
of the card (e.g. ``[configurations.1e17.exposure] n_pot = 1e17``), and a
``default_configuration``.  ``"na62:1e17"`` (or ``"./my.toml:1e17"``) selects one; a bare name
uses the default.  The resolved detector is named ``"<card>:<label>"``.

Card layout (units in the key names: metres, GeV, radians, millibarn, inverse attobarn)::

  name, description, default_configuration (optional)
  [beam]          spectrum (sps400, sps450, u70, lhc14), proton_energy_GeV, target, target_A
  [exposure]      n_pot  |  sigma_inel_mb and luminosity_inv_ab (LHC)
  [decay_volume]  shape = cylinder (z_start_m, z_end_m, radius_m)
                        | frustum (z_start_m, z_end_m, width_start_m, height_start_m,
                                   width_end_m, height_end_m)
                        | box (z_start_m, z_end_m, width_m, height_m)
  [calorimeter]   shape = disc (z_face_m, radius_m) | rectangle (z_face_m, width_m, height_m);
                  hole_radius_m (optional, default 0)
  [selection]     photon_energy_min_GeV (default 1), photon_energy_max_GeV (optional),
                  efficiency (default 1)
  [cone]          L_i_m, L_f_m, theta_max_rad        (the paper's selection, Sec. 3 / Eq. 4.3)
  [recast]        observed_events, expected_background, expected_background_uncertainty
                  (all optional; past experiments of Sec. 4.2)

A card with a [beams] table is an e+ e- experiment with its own layout (BaBar; see
:func:`mcsim.detector.interaction_point.build_interaction_point`): an
:class:`mcsim.detector.interaction_point.InteractionPointDetector`.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from hepunits import attobarn, millibarn

from mcsim.detector.geometry import Box, Calorimeter, Cone, Cylinder, RectFrustum
from mcsim.detector.interaction_point import InteractionPointDetector, build_interaction_point
from mcsim.runtime.cards import read_card_text
from mcsim.runtime.defaults import BEAMS, MODES
from mcsim.runtime.validate import card_range

__all__ = [
    "BEAMS",
    "Detector",
    "available_detectors",
    "detector_exposure",
    "exposure",
    "load_detector",
]


_NUM, _STR, _INT = "number", "string", "integer"

# section -> key -> (type, required); decay volume and calorimeter keys depend on the shape.
_SCHEMA: dict[str, dict[str, tuple[str, bool]]] = {
    "beam": {
        "spectrum": (_STR, True),
        "proton_energy_GeV": (_NUM, True),
        "target": (_STR, False),
        "target_A": (_NUM, True),
    },
    "exposure": {
        "n_pot": (_NUM, False),
        "sigma_inel_mb": (_NUM, False),
        "luminosity_inv_ab": (_NUM, False),
    },
    "selection": {
        "photon_energy_min_GeV": (_NUM, False),
        "photon_energy_max_GeV": (_NUM, False),
        "efficiency": (_NUM, False),
    },
    "cone": {"L_i_m": (_NUM, True), "L_f_m": (_NUM, True), "theta_max_rad": (_NUM, True)},
    "recast": {
        "observed_events": (_INT, False),
        "expected_background": (_NUM, False),
        "expected_background_uncertainty": (_NUM, False),
    },
}
_VOLUME_KEYS = {
    "cylinder": ("z_start_m", "z_end_m", "radius_m"),
    "frustum": (
        "z_start_m",
        "z_end_m",
        "width_start_m",
        "height_start_m",
        "width_end_m",
        "height_end_m",
    ),
    "box": ("z_start_m", "z_end_m", "width_m", "height_m"),
}
_CALO_KEYS = {"disc": ("z_face_m", "radius_m"), "rectangle": ("z_face_m", "width_m", "height_m")}
_TOP_KEYS = {"name": _STR, "description": _STR, "default_configuration": _STR}
_TABLES = ("beam", "exposure", "decay_volume", "calorimeter", "selection", "cone", "recast")
_REQUIRED_TABLES = ("beam", "exposure", "decay_volume", "calorimeter", "cone")


@dataclass(frozen=True)
class Detector:
    """One experiment as read from its card (lengths in m, energies in GeV).

    ``n_pot`` for fixed-target experiments; ``sigma_inel_mb`` and ``luminosity_inv_ab`` for a
    the LHC (FASER 2).  ``photon_energy_max`` is ``inf`` when the card sets no upper cut.
    ``observed_events`` etc. are ``None`` unless the card has a [recast] table.
    """

    name: str
    description: str
    card_path: str
    card_text: str
    beam: str
    proton_energy: float
    target: str
    target_A: float
    n_pot: float | None
    sigma_inel_mb: float | None
    luminosity_inv_ab: float | None
    decay_volume: Cylinder | RectFrustum | Box
    calorimeter: Calorimeter
    cone: Cone
    photon_energy_min: float
    photon_energy_max: float
    efficiency: float
    observed_events: int | None
    expected_background: float | None
    expected_background_uncertainty: float | None

    #: the event source of mcsim.sources that feeds it
    source = "mesons"

    @property
    def n_collisions(self) -> float:
        """Number of proton interactions: N_POT, or sigma_inel x L at the LHC (Eq. 4.2)."""
        if self.n_pot is not None:
            return self.n_pot
        assert self.sigma_inel_mb is not None and self.luminosity_inv_ab is not None  # card check
        return self.sigma_inel_mb * millibarn * self.luminosity_inv_ab / attobarn

    def propagation(self, mode: str, threshold: float | None) -> tuple:
        """(volume, calorimeter, photon acceptance judged by the propagator, E_min, E_max
        [GeV]) for :func:`mcsim.detector.propagate.observe`: the decay volume ('full') or the
        paper's cone ('cone'); ``threshold`` replaces the card's minimum photon energy."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if threshold is not None and not (threshold >= 0.0 and math.isfinite(threshold)):
            raise ValueError(f"threshold must be a finite energy >= 0 GeV, got {threshold!r}")
        e_min = self.photon_energy_min if threshold is None else float(threshold)
        volume = self.decay_volume if mode == "full" else self.cone
        return volume, self.calorimeter, mode == "full", e_min, self.photon_energy_max

    def directed_window(self, mode: str) -> float:
        """The angular window [rad] of directed sampling: the largest polar angle of the decay
        volume ('full') or the cone ('cone') -- no LLP outside it can decay inside."""
        return (self.decay_volume if mode == "full" else self.cone).max_polar_angle

    def select(self, production: dict, observed: dict) -> None:
        """The photon selection is the propagator's (nothing to add)."""


class _Card:
    """Checks one card's values, with errors naming the card and the key."""

    def __init__(self, label: str, data: dict):
        self.label = label
        self.data = data

    def error(self, key: str, message: str) -> ValueError:
        return ValueError(f"detector card {self.label}: key '{key}': {message}")

    def table(self, section: str, known: tuple[str, ...] | dict, *, required=True) -> dict:
        table = self.data.get(section)
        if table is None:
            if required:
                raise ValueError(f"detector card {self.label}: missing required table [{section}]")
            return {}
        if not isinstance(table, dict):
            raise self.error(section, "must be a table")
        unknown = sorted(set(table) - set(known))
        if unknown:
            raise self.error(
                f"{section}.{unknown[0]}", f"unknown key; [{section}] accepts {', '.join(known)}"
            )
        return table

    def value(
        self, section: str, table: dict, key: str, kind: str, *, required: bool, default=None
    ):
        full = f"{section}.{key}" if section else key
        if key not in table:
            if required:
                raise self.error(full, "missing")
            return default
        v = table[key]
        if kind == _STR:
            if not isinstance(v, str):
                raise self.error(full, f"must be a string, got {v!r}")
            return v
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise self.error(full, f"must be a {kind}, got {v!r}")
        if kind == _INT and not isinstance(v, int):
            raise self.error(full, f"must be an integer, got {v!r}")
        if not math.isfinite(v):
            raise self.error(full, f"must be finite, got {v!r}")
        return v

    def positive(
        self, section: str, table: dict, key: str, *, required=True, default=None, allow_zero=False
    ):
        v = self.value(section, table, key, _NUM, required=required, default=default)
        if v is not None and not (v > 0 or (allow_zero and v == 0)):
            bound = ">= 0" if allow_zero else "> 0"
            raise self.error(f"{section}.{key}", f"must be {bound}, got {v!r}")
        allowed = card_range(key)
        if v and key in table and allowed is not None:  # 0 passed the check above
            try:
                allowed.check(key, v)
            except ValueError:
                raise self.error(f"{section}.{key}", allowed.message(v)) from None
        return None if v is None else float(v)

    def section(self, section: str, *, required=True) -> dict:
        """A fixed-schema table as {key: value}, checked."""
        schema = _SCHEMA[section]
        table = self.table(section, schema, required=required)
        return {
            k: self.value(section, table, k, kind, required=req)
            for k, (kind, req) in schema.items()
        }

    def shaped(self, section: str, shapes: dict, extra: tuple[str, ...] = ()) -> tuple[str, dict]:
        """A table whose keys depend on its ``shape``: (shape, {key: positive float})."""
        raw = self.data.get(section)
        if raw is None:
            raise ValueError(f"detector card {self.label}: missing required table [{section}]")
        shape = self.value(section, raw, "shape", _STR, required=True)
        if shape not in shapes:
            raise self.error(
                f"{section}.shape", f"unknown shape {shape!r}; use one of {', '.join(shapes)}"
            )
        table = self.table(section, ("shape", *shapes[shape], *extra))
        return shape, {k: self.positive(section, table, k) for k in shapes[shape]}

    def build(self, name: str, path: str, text: str) -> Detector:
        for key in self.data:
            if key not in _TOP_KEYS and key not in _TABLES:
                known = ", ".join([*_TOP_KEYS, *_TABLES])
                raise self.error(key, f"unknown key; a card holds {known}")
        for key in _TOP_KEYS:
            self.value("", self.data, key, _STR, required=False)
        for section in _REQUIRED_TABLES:
            if section not in self.data:
                raise ValueError(f"detector card {self.label}: missing required table [{section}]")
        beam = self.section("beam")
        if beam["spectrum"] not in BEAMS:
            raise self.error(
                "beam.spectrum", f"unknown beam {beam['spectrum']!r}; use one of {', '.join(BEAMS)}"
            )
        beam_table = self.data["beam"]
        energy = self.positive("beam", beam_table, "proton_energy_GeV")
        target_a = self.positive("beam", beam_table, "target_A")
        exposure = self.exposure()
        volume = self.volume()
        calo = self.calorimeter(volume)
        cone = self.cone()
        sel_table = self.table("selection", _SCHEMA["selection"], required=False)
        e_min = self.positive(
            "selection",
            sel_table,
            "photon_energy_min_GeV",
            required=False,
            default=1.0,
            allow_zero=True,
        )
        e_max = self.positive(
            "selection", sel_table, "photon_energy_max_GeV", required=False, default=math.inf
        )
        if e_max <= e_min:
            raise self.error(
                "selection.photon_energy_max_GeV",
                f"must exceed photon_energy_min_GeV = {e_min}, got {e_max}",
            )
        eff = self.positive("selection", sel_table, "efficiency", required=False, default=1.0)
        if eff > 1.0:
            raise self.error("selection.efficiency", f"must be in (0, 1], got {eff}")
        recast = self.section("recast", required=False)
        rec_table = self.data.get("recast", {})
        for key in ("expected_background", "expected_background_uncertainty"):
            self.positive("recast", rec_table, key, required=False, allow_zero=True)
        if recast["observed_events"] is not None and recast["observed_events"] < 0:
            raise self.error(
                "recast.observed_events", f"must be >= 0, got {recast['observed_events']}"
            )
        return Detector(
            name=name,
            description=self.data.get("description", ""),
            card_path=path,
            card_text=text,
            beam=beam["spectrum"],
            proton_energy=energy,
            target=beam["target"] or "",
            target_A=target_a,
            **exposure,
            decay_volume=volume,
            calorimeter=calo,
            cone=cone,
            photon_energy_min=e_min,
            photon_energy_max=e_max,
            efficiency=eff,
            **recast,
        )

    def exposure(self) -> dict:
        table = self.table("exposure", _SCHEMA["exposure"])
        n_pot = self.positive("exposure", table, "n_pot", required=False)
        sigma = self.positive("exposure", table, "sigma_inel_mb", required=False)
        lumi = self.positive("exposure", table, "luminosity_inv_ab", required=False)
        if n_pot is None and (sigma is None or lumi is None):
            raise self.error(
                "exposure.n_pot", "missing: give n_pot, or sigma_inel_mb and luminosity_inv_ab"
            )
        if n_pot is not None and (sigma is not None or lumi is not None):
            raise self.error(
                "exposure.n_pot",
                "give either n_pot or sigma_inel_mb with luminosity_inv_ab, not both",
            )
        return {"n_pot": n_pot, "sigma_inel_mb": sigma, "luminosity_inv_ab": lumi}

    def volume(self):
        shape, v = self.shaped("decay_volume", _VOLUME_KEYS)
        if v["z_end_m"] <= v["z_start_m"]:
            raise self.error(
                "decay_volume.z_end_m",
                f"must exceed z_start_m = {v['z_start_m']}, got {v['z_end_m']}",
            )
        z = (v["z_start_m"], v["z_end_m"])
        if shape == "cylinder":
            return Cylinder(*z, v["radius_m"])
        if shape == "box":
            return Box(*z, v["width_m"], v["height_m"])
        return RectFrustum(
            *z, v["width_start_m"], v["height_start_m"], v["width_end_m"], v["height_end_m"]
        )

    def calorimeter(self, volume) -> Calorimeter:
        shape, v = self.shaped("calorimeter", _CALO_KEYS, extra=("hole_radius_m",))
        hole = self.positive(
            "calorimeter",
            self.data["calorimeter"],
            "hole_radius_m",
            required=False,
            default=0.0,
            allow_zero=True,
        )
        if v["z_face_m"] < volume.z_end:
            raise self.error(
                "calorimeter.z_face_m",
                f"the face must be at or behind the end of "
                f"the decay volume ({volume.z_end} m), "
                f"got {v['z_face_m']}",
            )
        size = v.get("radius_m") or min(v["width_m"], v["height_m"]) / 2
        if hole >= size:
            raise self.error(
                "calorimeter.hole_radius_m", f"must be smaller than the face ({size} m), got {hole}"
            )
        return Calorimeter(
            z_face=v["z_face_m"],
            shape=shape,
            radius=v.get("radius_m", 0.0),
            width=v.get("width_m", 0.0),
            height=v.get("height_m", 0.0),
            hole_radius=hole,
        )

    def cone(self) -> Cone:
        table = self.table("cone", _SCHEMA["cone"])
        l_i = self.positive("cone", table, "L_i_m")
        l_f = self.positive("cone", table, "L_f_m")
        theta = self.positive("cone", table, "theta_max_rad")
        if l_f <= l_i:
            raise self.error("cone.L_f_m", f"must exceed L_i_m = {l_i}, got {l_f}")
        if theta >= math.pi / 2:
            raise self.error("cone.theta_max_rad", f"must be below pi/2, got {theta}")
        return Cone(l_i, l_f, theta)


def _merge(base: dict, override: dict) -> dict:
    """Recursive dict update (override wins), returning a new dict."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _shipped():
    return resources.files("mcsim.detectors")


def _card_names() -> list[str]:
    return sorted(f.name[:-5] for f in _shipped().iterdir() if f.name.endswith(".toml"))


def _read(label: str, text: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"detector card {label}: not valid TOML: {err}") from None


def _locate(name_or_path: str) -> tuple[str, str, str, str | None]:
    """(card label, path, text, configuration or None) for a name or path."""
    if _looks_like_path(name_or_path):
        spec, config = _split_path(name_or_path)
    else:
        spec, _, config = name_or_path.partition(":")
    if _looks_like_path(spec):
        path = Path(spec)
        return str(path), str(path), read_card_text("detector card", spec), config or None
    if spec not in _card_names():
        raise ValueError(
            f"unknown detector {spec!r}; known detectors: {', '.join(available_detectors())}"
        )
    res = _shipped().joinpath(f"{spec}.toml")
    return f"'{spec}' ({spec}.toml)", str(res), res.read_text(), config or None


def _looks_like_path(s: str) -> bool:
    return "/" in s or "\\" in s or ".toml" in s


def _split_path(s: str) -> tuple[str, str]:
    """'dir/card.toml:label' -> ('dir/card.toml', 'label'); no label -> (s, '')."""
    head, sep, tail = s.rpartition(":")
    if sep and head.endswith(".toml"):
        return head, tail
    return s, ""


def load_detector(name_or_path: str) -> Detector | InteractionPointDetector:
    """The detector of a shipped card (``"na62"``, ``"na62:1e17"``) or of a card file (a path,
    optionally ``path.toml:label``).  Raises ValueError naming the card and key on a bad card."""
    label, path, text, config = _locate(str(name_or_path))
    data = _read(label, text)
    configs = data.pop("configurations", {})
    if not isinstance(configs, dict) or any(not isinstance(v, dict) for v in configs.values()):
        raise ValueError(
            f"detector card {label}: key 'configurations': must be tables [configurations.<label>]"
        )
    config = config or data.get("default_configuration")
    base = data.get("name") or Path(path).stem
    if config is not None:
        if config not in configs:
            known = ", ".join(configs) or "none"
            raise ValueError(
                f"detector card {label}: unknown configuration {config!r}; configurations: {known}"
            )
        data = _merge(data, configs[config])
        base = f"{base}:{config}"
    if "beams" in data:  # e+ e- beams meeting inside the detector (BaBar)
        return build_interaction_point(_Card(label, data), base, path, text)
    return _Card(label, data).build(base, path, text)


def exposure(meta: dict) -> str:
    """'1e+18 POT', '3 ab^-1 (sigma_inel = 79 mb)' or '60 fb^-1 (e+ e-)': the run's exposure."""
    if meta.get("n_pot") is not None:
        return f"{meta['n_pot']:.3g} POT"
    if meta.get("sigma_inel_mb") is None:  # e+ e- beams: luminosity only
        return f"{1e3 * meta['luminosity_inv_ab']:g} fb^-1 (e+ e-)"
    return f"{meta['luminosity_inv_ab']:g} ab^-1 (sigma_inel = {meta['sigma_inel_mb']:g} mb)"


def detector_exposure(det) -> str:
    """:func:`exposure` of a detector card (POT, or luminosity and sigma_inel)."""
    return exposure(
        {
            "n_pot": det.n_pot,
            "luminosity_inv_ab": det.luminosity_inv_ab,
            "sigma_inel_mb": det.sigma_inel_mb,
        }
    )


def available_detectors() -> list[str]:
    """Names accepted by :func:`load_detector`: each shipped card, and ``card:label`` for each
    of its configurations."""
    out = []
    for name in _card_names():
        out.append(name)
        data = tomllib.loads(_shipped().joinpath(f"{name}.toml").read_text())
        out.extend(f"{name}:{c}" for c in data.get("configurations", {}))
    return out
