"""Decay volumes and calorimeter faces, with numba ray kernels.

Coordinates: metres, the target / interaction point at the origin, the beam along +z.  A ray is
a start point o and a unit direction u; s >= 0 is the distance along it.  Every decay volume is
convex along a ray, so its path is one interval [s_in, s_out]; an empty interval is returned as
(0.0, 0.0).

Shapes (all centred on the beam axis):
  ``Cylinder``     radius R, z in [z_start, z_end]                 (NA62, HIKE, FASER 2, NuCal)
  ``RectFrustum``  rectangular section growing linearly from (width, height) at z_start to
                   (width, height) at z_end                          (SHiP's pyramid)
  ``Box``          rectangular section of fixed size                 (CHARM-II, BEBC)
  ``Cone``         the paper's selection: polar angle < theta_max and distance from the apex (the
                   origin) in [L_i, L_f]; defined for rays from the apex only.
A ``Calorimeter`` is the plane z = z_face with a disc (radius R) or a rectangle (width x height)
of acceptance and an optional central circular beam hole.

Each shape is a frozen dataclass with a numeric ``code`` and a float ``params`` array, which the
kernels dispatch on (``volume_path``, ``volume_contains``, ``calo_intervals``), so the propagator
stays free of Python objects.  The scalar kernels are ``inline="always"``: calls between cached
numba functions are not inlined otherwise and cost more than their arithmetic in the hot loop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mcsim.runtime.jit_cache import kernel

__all__ = [
    "CONE",
    "CYLINDER",
    "DISC",
    "FRUSTUM",
    "RECTANGLE",
    "Box",
    "Calorimeter",
    "Cone",
    "Cylinder",
    "RectFrustum",
    "calo_intervals",
    "contains",
    "crossings",
    "face_contains",
    "path_lengths",
    "plane_crossing",
    "quadratic_le0",
    "volume_contains",
    "volume_path",
]

CYLINDER, FRUSTUM, CONE = 0, 1, 2  #: volume kernel codes (a Box is a frustum of constant section)
DISC, RECTANGLE = 0, 1  #: calorimeter face kernel codes

_INF = math.inf


# ------------------------------------------------------------------------------------ kernels


@kernel(inline="always")
def quadratic_le0(qa: float, qb: float, qc: float):
    """Interval (lo, hi) of s where qa s^2 + 2 qb s + qc <= 0, for qa >= 0.

    Returns (inf, -inf) when the set is empty; (-inf, inf) when it is the whole line.
    """
    if qa == 0.0:
        if qb == 0.0:
            return (-_INF, _INF) if qc <= 0.0 else (_INF, -_INF)
        root = -qc / (2.0 * qb)
        return (-_INF, root) if qb > 0.0 else (root, _INF)
    disc = qb * qb - qa * qc
    if disc < 0.0:
        return _INF, -_INF
    sq = math.sqrt(disc)
    q = -(qb + sq) if qb >= 0.0 else -(qb - sq)  # stable: no cancellation
    if q == 0.0:  # qb = 0 and qc = 0: a double root at 0
        return 0.0, 0.0
    r1 = q / qa
    r2 = qc / q
    return (r1, r2) if r1 <= r2 else (r2, r1)


@kernel(inline="always")
def _clip(lo: float, hi: float, den: float, num: float):
    """Intersect [lo, hi] with the half-line den * s <= num."""
    if den > 0.0:
        hi = min(hi, num / den)
    elif den < 0.0:
        lo = max(lo, num / den)
    elif num < 0.0:
        return _INF, -_INF
    return lo, hi


@kernel(inline="always")
def _slab_z(ox, oy, oz, ux, uy, uz, z0, z1):
    """[lo, hi] of s >= 0 with z0 <= oz + s uz <= z1."""
    lo, hi = _clip(0.0, _INF, uz, z1 - oz)
    return _clip(lo, hi, -uz, oz - z0)


@kernel(inline="always")
def _cylinder_path(ox, oy, oz, ux, uy, uz, z0, z1, r):
    lo, hi = _slab_z(ox, oy, oz, ux, uy, uz, z0, z1)
    a, b = quadratic_le0(ux * ux + uy * uy, ox * ux + oy * uy, ox * ox + oy * oy - r * r)
    return max(lo, a), min(hi, b)


@kernel(inline="always")
def _frustum_path(ox, oy, oz, ux, uy, uz, z0, z1, hx0, hy0, hx1, hy1):
    """Half-widths hx(z) = hx0 + kx (z - z0), same in y; |x| <= hx(z) are four half-spaces."""
    lo, hi = _slab_z(ox, oy, oz, ux, uy, uz, z0, z1)
    kx = (hx1 - hx0) / (z1 - z0)
    ky = (hy1 - hy0) / (z1 - z0)
    hx = hx0 + kx * (oz - z0)  # half-width at the start point's z, extrapolated
    hy = hy0 + ky * (oz - z0)
    lo, hi = _clip(lo, hi, ux - kx * uz, hx - ox)
    lo, hi = _clip(lo, hi, -ux - kx * uz, hx + ox)
    lo, hi = _clip(lo, hi, uy - ky * uz, hy - oy)
    lo, hi = _clip(lo, hi, -uy - ky * uz, hy + oy)
    return lo, hi


@kernel(inline="always")
def _cone_path(ux, uy, uz, l_i, l_f, theta_max):
    """The paper's cone for a ray from the apex: [L_i, L_f] if the polar angle < theta_max."""
    if uz > 0.0 and math.sqrt(ux * ux + uy * uy) < math.tan(theta_max) * uz:
        return l_i, l_f
    return _INF, -_INF


@kernel(inline="always")
def volume_path(code: int, params, ox, oy, oz, ux, uy, uz):
    """(s_in, s_out) [m] of the ray o + s u (s >= 0, |u| = 1) inside a volume; (0, 0) if it misses.

    ``code``/``params`` as in the ``code`` and ``params`` of the geometry classes.  For the cone,
    o must be the apex (the origin).
    """
    if code == CYLINDER:
        lo, hi = _cylinder_path(ox, oy, oz, ux, uy, uz, params[0], params[1], params[2])
    elif code == FRUSTUM:
        lo, hi = _frustum_path(
            ox, oy, oz, ux, uy, uz, params[0], params[1], params[2], params[3], params[4], params[5]
        )
    else:
        lo, hi = _cone_path(ux, uy, uz, params[0], params[1], params[2])
    if hi > lo:
        return lo, hi
    return 0.0, 0.0


@kernel(inline="always")
def volume_contains(code: int, params, x, y, z) -> bool:
    """Whether the point (x, y, z) [m] lies inside the volume (boundary included)."""
    if code == CONE:
        r = math.sqrt(x * x + y * y + z * z)
        return (
            params[0] <= r <= params[1]
            and z > 0.0
            and math.sqrt(x * x + y * y) <= math.tan(params[2]) * z
        )
    if not params[0] <= z <= params[1]:
        return False
    if code == CYLINDER:
        return x * x + y * y <= params[2] * params[2]
    f = (z - params[0]) / (params[1] - params[0])
    return abs(x) <= params[2] + f * (params[4] - params[2]) and abs(y) <= params[3] + f * (
        params[5] - params[3]
    )


@kernel(inline="always")
def plane_crossing(ox, oy, oz, tx, ty, tz, z_plane):
    """Where the ray o + s t meets the plane z = z_plane: (hit, x, y); hit is False when the
    plane is behind the start point or the ray is parallel to it."""
    if tz == 0.0:
        return False, math.nan, math.nan
    s = (z_plane - oz) / tz
    if s < 0.0:
        return False, math.nan, math.nan
    return True, ox + s * tx, oy + s * ty


@kernel(inline="always")
def face_contains(code: int, params, x, y) -> bool:
    """Whether (x, y) [m] on the calorimeter plane is inside the face and outside the beam hole.

    params = (z_face, hole_radius, R or half-width, 0 or half-height).
    """
    rho2 = x * x + y * y
    if rho2 < params[1] * params[1]:
        return False
    if code == DISC:
        return rho2 <= params[2] * params[2]
    return abs(x) <= params[2] and abs(y) <= params[3]


@kernel(inline="always")
def calo_intervals(code: int, params, ox, oy, oz, ux, uy, uz, tx, ty, tz, lo, hi):
    """Decay positions s in [lo, hi] on the ray o + s u from which a photon of direction t
    (unit vector) hits the calorimeter face: at most two intervals (a1, b1, a2, b2), empty ones as
    a = b = 0.  The impact point is X(s) = A + s B (transverse), linear in s, so the disc is a
    quadratic condition, the rectangle four linear ones and the hole removes one interval.
    """
    if hi <= lo or tz <= 0.0:
        return 0.0, 0.0, 0.0, 0.0
    c = (params[0] - oz) / tz
    ax = ox + c * tx
    ay = oy + c * ty
    bx = ux - uz / tz * tx
    by = uy - uz / tz * ty
    qa = bx * bx + by * by
    qb = ax * bx + ay * by
    if code == DISC:
        r1, r2 = quadratic_le0(qa, qb, ax * ax + ay * ay - params[2] * params[2])
    else:
        r1, r2 = _clip(-_INF, _INF, bx, params[2] - ax)
        r1, r2 = _clip(r1, r2, -bx, params[2] + ax)
        r1, r2 = _clip(r1, r2, by, params[3] - ay)
        r1, r2 = _clip(r1, r2, -by, params[3] + ay)
    r1 = max(r1, lo)
    r2 = min(r2, hi)
    if r2 <= r1:
        return 0.0, 0.0, 0.0, 0.0
    if params[1] <= 0.0:
        return r1, r2, 0.0, 0.0
    h1, h2 = quadratic_le0(qa, qb, ax * ax + ay * ay - params[1] * params[1])
    if h2 <= h1:  # the line never passes through the hole
        return r1, r2, 0.0, 0.0
    a1, b1 = r1, min(r2, h1)
    a2, b2 = max(r1, h2), r2
    if b1 <= a1:
        a1, b1 = 0.0, 0.0
    if b2 <= a2:
        a2, b2 = 0.0, 0.0
    if b1 == a1:  # keep a non-empty interval first
        a1, b1, a2, b2 = a2, b2, 0.0, 0.0
    return a1, b1, a2, b2


@kernel()
def _path_lengths(code, params, origins, directions):
    n = origins.shape[0]
    out = np.empty((n, 2))
    for i in range(n):
        o = origins[i]
        u = directions[i]
        out[i, 0], out[i, 1] = volume_path(code, params, o[0], o[1], o[2], u[0], u[1], u[2])
    return out


@kernel()
def _contains(code, params, points):
    n = points.shape[0]
    out = np.empty(n, dtype=np.bool_)
    for i in range(n):
        out[i] = volume_contains(code, params, points[i, 0], points[i, 1], points[i, 2])
    return out


@kernel()
def _crossings(code, params, origins, directions):
    n = origins.shape[0]
    xy = np.empty((n, 2))
    ok = np.empty(n, dtype=np.bool_)
    for i in range(n):
        o = origins[i]
        t = directions[i]
        hit, x, y = plane_crossing(o[0], o[1], o[2], t[0], t[1], t[2], params[0])
        xy[i, 0] = x
        xy[i, 1] = y
        ok[i] = hit and face_contains(code, params, x, y)
    return ok, xy


def _rows(a, width: int) -> np.ndarray:
    a = np.ascontiguousarray(a, dtype=np.float64)
    return a.reshape(-1, width)


def _unit(directions) -> np.ndarray:
    u = _rows(directions, 3)
    return u / np.linalg.norm(u, axis=1, keepdims=True)


def path_lengths(volume, origins, directions) -> np.ndarray:
    """(n, 2) array of (s_in, s_out) [m] for rays from ``origins`` (n, 3) [m] along
    ``directions`` (n, 3) (normalised here); (0, 0) where a ray misses."""
    o = _rows(origins, 3)
    return _path_lengths(volume.code, volume.params, o, _unit(directions))


def contains(volume, points) -> np.ndarray:
    """Boolean (n,): which points (n, 3) [m] are inside ``volume``."""
    return _contains(volume.code, volume.params, _rows(points, 3))


def crossings(calorimeter: Calorimeter, origins, directions):
    """Rays (n, 3) from ``origins`` along ``directions`` to the calorimeter plane: returns
    (accepted (n,) bool, impact (n, 2) [m]); the impact is NaN where the plane is not reached."""
    o = _rows(origins, 3)
    return _crossings(calorimeter.code, calorimeter.params, o, _unit(directions))


# ------------------------------------------------------------------------------------ classes


def _positive(name: str, value: float) -> float:
    value = float(value)
    if not (value > 0.0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a finite length > 0 m, got {value!r}")
    return value


def _z_range(z_start: float, z_end: float) -> None:
    if not (math.isfinite(z_start) and math.isfinite(z_end) and z_start >= 0.0 and z_end > z_start):
        raise ValueError(f"need 0 <= z_start < z_end, got z_start = {z_start} m, z_end = {z_end} m")


class _Volume:
    """Shared Python-level helpers; subclasses define ``code`` and ``params``."""

    code: int

    @property
    def params(self) -> np.ndarray:
        """The shape's float parameters, as the kernels take them (each subclass's own)."""
        raise NotImplementedError

    def path(self, origin, direction) -> tuple[float, float]:
        """(s_in, s_out) [m] of one ray; (0, 0) if it misses."""
        s = path_lengths(self, origin, direction)[0]
        return float(s[0]), float(s[1])

    def contains(self, point) -> bool:
        """Whether one point (x, y, z) [m] is inside."""
        return bool(contains(self, point)[0])


@dataclass(frozen=True)
class Cylinder(_Volume):
    """Cylinder on the beam axis: radius [m], from z_start to z_end [m]."""

    z_start: float
    z_end: float
    radius: float

    code = CYLINDER

    def __post_init__(self):
        _z_range(self.z_start, self.z_end)
        _positive("radius", self.radius)

    @property
    def params(self) -> np.ndarray:
        return np.array([self.z_start, self.z_end, self.radius])

    @property
    def max_polar_angle(self) -> float:
        """Largest polar angle [rad] of a point of the volume seen from the origin."""
        return math.atan2(self.radius, self.z_start)


@dataclass(frozen=True)
class RectFrustum(_Volume):
    """Rectangular frustum (pyramid section) on the beam axis: full width (x) and height (y) [m]
    at z_start and at z_end, growing linearly in between."""

    z_start: float
    z_end: float
    width_start: float
    height_start: float
    width_end: float
    height_end: float

    code = FRUSTUM

    def __post_init__(self):
        _z_range(self.z_start, self.z_end)
        for name in ("width_start", "height_start", "width_end", "height_end"):
            _positive(name, getattr(self, name))

    @property
    def params(self) -> np.ndarray:
        return np.array(
            [
                self.z_start,
                self.z_end,
                self.width_start / 2,
                self.height_start / 2,
                self.width_end / 2,
                self.height_end / 2,
            ]
        )

    @property
    def max_polar_angle(self) -> float:
        """Largest polar angle [rad] of a point of the volume seen from the origin: at a corner
        of the entrance or the exit face (half-diagonal / z is monotonic in between)."""
        return max(
            math.atan2(math.hypot(self.width_start, self.height_start) / 2, self.z_start),
            math.atan2(math.hypot(self.width_end, self.height_end) / 2, self.z_end),
        )


@dataclass(frozen=True)
class Box(_Volume):
    """Box on the beam axis: full width (x), height (y) [m], from z_start to z_end [m]."""

    z_start: float
    z_end: float
    width: float
    height: float

    code = FRUSTUM  # a box is a frustum of constant section: the same ray kernel

    def __post_init__(self):
        _z_range(self.z_start, self.z_end)
        _positive("width", self.width)
        _positive("height", self.height)

    @property
    def params(self) -> np.ndarray:
        hx, hy = self.width / 2, self.height / 2
        return np.array([self.z_start, self.z_end, hx, hy, hx, hy])

    @property
    def max_polar_angle(self) -> float:
        """Largest polar angle [rad] of a point of the volume seen from the origin."""
        return math.atan2(math.hypot(self.width, self.height) / 2, self.z_start)


@dataclass(frozen=True)
class Cone(_Volume):
    """The paper's acceptance cone (Sec. 3, Eq. 4.3): apex at the origin, polar angle below
    theta_max [rad], distance from the apex between l_i and l_f [m]."""

    l_i: float
    l_f: float
    theta_max: float

    code = CONE

    def __post_init__(self):
        _z_range(self.l_i, self.l_f)
        if not 0.0 < self.theta_max < math.pi / 2:
            raise ValueError(f"theta_max must be in (0, pi/2) rad, got {self.theta_max!r}")

    @property
    def params(self) -> np.ndarray:
        return np.array([self.l_i, self.l_f, self.theta_max])

    @property
    def max_polar_angle(self) -> float:
        """Largest polar angle [rad] of a point of the cone: theta_max."""
        return self.theta_max

    def path(self, origin, direction) -> tuple[float, float]:
        """(s_in, s_out) [m] of one ray from the apex; other start points are refused."""
        if np.any(np.asarray(origin, dtype=float) != 0.0):
            raise ValueError("the cone is defined for rays from its apex (the origin) only")
        return super().path(origin, direction)

    @property
    def z_end(self) -> float:
        """Largest z [m] of the cone region."""
        return self.l_f


@dataclass(frozen=True)
class Calorimeter:
    """Calorimeter face: the plane z = z_face [m]; shape 'disc' (radius [m]) or 'rectangle'
    (full width x height [m]); optional central beam hole of radius hole_radius [m] (0: none)."""

    z_face: float
    shape: str
    radius: float = 0.0
    width: float = 0.0
    height: float = 0.0
    hole_radius: float = 0.0

    def __post_init__(self):
        if not (math.isfinite(self.z_face) and self.z_face > 0.0):
            raise ValueError(f"z_face must be a finite distance > 0 m, got {self.z_face!r}")
        if self.shape == "disc":
            _positive("radius", self.radius)
            size = self.radius
        elif self.shape == "rectangle":
            _positive("width", self.width)
            _positive("height", self.height)
            size = min(self.width, self.height) / 2
        else:
            raise ValueError(f"calorimeter shape must be 'disc' or 'rectangle', got {self.shape!r}")
        if not 0.0 <= self.hole_radius < size:
            raise ValueError(f"hole_radius must be in [0, {size}) m, got {self.hole_radius!r}")

    @property
    def half_size(self) -> float:
        """Largest half-extent of the face from the axis [m]: the radius, or half the larger side."""
        return self.radius if self.shape == "disc" else max(self.width, self.height) / 2

    @property
    def code(self) -> int:
        return DISC if self.shape == "disc" else RECTANGLE

    @property
    def params(self) -> np.ndarray:
        if self.shape == "disc":
            return np.array([self.z_face, self.hole_radius, self.radius, 0.0])
        return np.array([self.z_face, self.hole_radius, self.width / 2, self.height / 2])
