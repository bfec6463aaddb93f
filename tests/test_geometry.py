"""Ray kernels against hand-computed paths and analytic solid angles."""

import math

import numpy as np
import pytest

from mcsim.detector.geometry import (
    Box,
    Calorimeter,
    Cone,
    Cylinder,
    RectFrustum,
    calo_intervals,
    contains,
    crossings,
    face_contains,
    path_lengths,
    plane_crossing,
)


def _isotropic(n, rng):
    v = rng.normal(size=(n, 3))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.mark.parametrize("hole", [0.0, 0.3])
def test_isotropic_rays_hit_a_disc_with_the_solid_angle_fraction(hole):
    rng = np.random.default_rng(11)
    h, radius, n = 2.0, 1.5, 1_000_000
    calo = Calorimeter(z_face=h, shape="disc", radius=radius, hole_radius=hole)
    hit, xy = crossings(calo, np.zeros((n, 3)), _isotropic(n, rng))
    expected = 0.5 * (h / math.hypot(h, hole) - h / math.hypot(h, radius))
    sigma = math.sqrt(expected * (1 - expected) / n)
    assert abs(hit.mean() - expected) < 4 * sigma
    assert np.all(np.hypot(xy[hit, 0], xy[hit, 1]) <= radius)


def test_rays_from_an_off_axis_point_hit_a_rectangle_with_its_solid_angle():
    # solid angle of a rectangle seen from above one corner: arctan(a b / (h sqrt(a^2+b^2+h^2)))
    rng = np.random.default_rng(12)
    a, b, h, n = 1.0, 2.0, 1.5, 1_000_000
    calo = Calorimeter(z_face=h, shape="rectangle", width=2 * a, height=2 * b)
    origin = np.tile([-a, -b, 0.0], (n, 1))  # above a corner of the 2a x 2b rectangle
    hit, _ = crossings(calo, origin, _isotropic(n, rng))
    omega = math.atan(4 * a * b / (h * math.sqrt(4 * a * a + 4 * b * b + h * h)))
    expected = omega / (4 * math.pi)
    assert abs(hit.mean() - expected) < 4 * math.sqrt(expected * (1 - expected) / n)


def test_cylinder_paths_for_hand_computed_rays():
    cyl = Cylinder(z_start=79.0, z_end=217.0, radius=1.0)
    assert cyl.path([0, 0, 0], [0, 0, 1]) == pytest.approx((79.0, 217.0))
    # slope 1/100 from the origin: leaves through the side at z = 100
    k = 1.0 / math.sqrt(1 + 0.01**2)
    assert cyl.path([0, 0, 0], [0.01, 0, 1]) == pytest.approx((79.0 / k, 100.0 / k), rel=1e-12)
    assert cyl.path([0.5, 0, 0], [0, 0, 1]) == pytest.approx((79.0, 217.0))
    assert cyl.path([2.0, 0, 0], [0, 0, 1]) == (0.0, 0.0)  # parallel, outside
    assert cyl.path([-5.0, 0.6, 100.0], [1, 0, 0]) == pytest.approx((5 - 0.8, 5 + 0.8))
    assert cyl.path([0, 0, 100.0], [0, 0, 1]) == pytest.approx((0.0, 117.0))  # starts inside
    assert cyl.path([0, 0, 0], [0, 0, -1]) == (0.0, 0.0)  # flies away
    assert cyl.path([0, 0, 0], [0.02, 0, 1]) == (0.0, 0.0)  # out of the side before z0


def test_frustum_paths_for_hand_computed_rays():
    ship = RectFrustum(33.1, 83.1, 1.0, 2.7, 4.0, 6.0)  # half-width 0.5 + 0.03 (z - 33.1)
    assert ship.path([0, 0, 0], [0, 0, 1]) == pytest.approx((33.1, 83.1))
    # transverse at the middle: half-width 1.25 m in x, 2.175 m in y
    assert ship.path([-5, 0, 58.1], [1, 0, 0]) == pytest.approx((3.75, 6.25))
    assert ship.path([0, -5, 58.1], [0, 1, 0]) == pytest.approx((5 - 2.175, 5 + 2.175))
    # slope x/z = 0.02 from the origin: outside at z0 (0.662 > 0.5), enters where
    # 0.02 z = 0.5 + 0.03 (z - 33.1), i.e. z = 49.3, and leaves through the exit face
    k = math.sqrt(1 + 0.02**2)
    assert ship.path([0, 0, 0], [0.02, 0, 1]) == pytest.approx((49.3 * k, 83.1 * k), rel=1e-12)
    # slope 0.025: the wall (slope 0.03) would reach it only at z = 98.6, behind the exit
    assert ship.path([0, 0, 0], [0.025, 0, 1]) == (0.0, 0.0)


def test_box_paths_and_contains():
    box = Box(404.0, 405.85, 3.57, 2.52)
    assert box.path([0, 0, 0], [0, 0, 1]) == pytest.approx((404.0, 405.85))
    assert box.path([0, -3, 405.0], [0, 1, 0]) == pytest.approx((3 - 1.26, 3 + 1.26))
    pts = np.array([[0, 0, 405], [1.7, 1.2, 404.5], [1.8, 0, 405], [0, 0, 403.9]])
    assert contains(box, pts).tolist() == [True, True, False, False]


def test_contains_agrees_with_the_path():
    """A point at the middle of a path is inside; points just outside it are not."""
    rng = np.random.default_rng(3)
    volumes = [Cylinder(79.0, 217.0, 1.0), RectFrustum(33.1, 83.1, 1.0, 2.7, 4.0, 6.0)]
    for vol in volumes:
        n = 20000
        origins = np.column_stack([rng.normal(0, 2, n), rng.normal(0, 2, n), rng.uniform(0, 60, n)])
        dirs = np.column_stack([rng.normal(0, 0.05, n), rng.normal(0, 0.05, n), np.ones(n)])
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
        s = path_lengths(vol, origins, dirs)
        ok = s[:, 1] > s[:, 0]
        assert ok.sum() > 1000
        o, d, s = origins[ok], dirs[ok], s[ok]
        middle = o + (0.5 * (s[:, 0] + s[:, 1]))[:, None] * d
        assert contains(vol, middle).all()
        after = o + (s[:, 1] + 1e-6)[:, None] * d
        assert not contains(vol, after).any()
        enters = s[:, 0] > 1e-5  # starts outside
        before = o[enters] + (s[enters, 0] - 1e-6)[:, None] * d[enters]
        assert not contains(vol, before).any()


def test_cone_is_the_papers_selection():
    cone = Cone(79.0, 217.0, 5.5e-3)
    assert cone.path([0, 0, 0], [5e-3, 0, 1]) == (79.0, 217.0)
    assert cone.path([0, 0, 0], [6e-3, 0, 1]) == (0.0, 0.0)
    assert cone.contains([0.1, 0, 100.0]) and not cone.contains([0.6, 0, 100.0])
    assert not cone.contains([0, 0, 50.0])
    with pytest.raises(ValueError, match="apex"):
        cone.path([0, 0, 1], [0, 0, 1])


def test_plane_crossing_and_face():
    hit, x, y = plane_crossing(0.0, 0.0, 10.0, 0.6, 0.0, 0.8, 18.0)
    assert hit and x == pytest.approx(6.0) and y == pytest.approx(0.0)
    assert not plane_crossing(0.0, 0.0, 20.0, 0.0, 0.0, 1.0, 18.0)[0]  # plane behind
    params = Calorimeter(z_face=217.0, shape="disc", radius=1.2, hole_radius=0.08).params
    assert face_contains(0, params, 1.0, 0.5) and not face_contains(0, params, 0.05, 0.0)
    assert not face_contains(0, params, 1.0, 0.7)


@pytest.mark.parametrize(
    "calo",
    [
        Calorimeter(z_face=217.0, shape="disc", radius=1.2, hole_radius=0.08),
        Calorimeter(z_face=96.6, shape="rectangle", width=4.0, height=6.0, hole_radius=0.5),
    ],
)
def test_accepted_intervals_agree_with_direct_ray_tracing(calo):
    """s in the accepted intervals <=> the photon from o + s u hits the face, traced here in
    numpy (plane crossing and face shape from the calorimeter's definition) at 39 positions on
    each of 3000 rays."""
    rng = np.random.default_rng(5)
    n, z_cal, params = 3000, calo.z_face, calo.params
    lo, hi = 0.3 * z_cal, z_cal
    o = np.column_stack([rng.normal(0, 0.3, n), rng.normal(0, 0.3, n), np.zeros(n)])
    u = np.column_stack([rng.normal(0, 0.01, n), rng.normal(0, 0.01, n), np.ones(n)])
    t = u + np.column_stack([rng.normal(0, 0.02, n), rng.normal(0, 0.02, n), np.zeros(n)])
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    t /= np.linalg.norm(t, axis=1, keepdims=True)
    acc = np.array(
        [calo_intervals(calo.code, params, *o[i], *u[i], *t[i], lo, hi) for i in range(n)]
    )
    s = np.linspace(lo, hi, 41)[None, 1:-1] + rng.uniform(-1e-3, 1e-3, (n, 1))  # (n, 39)
    v = o[:, None, :] + s[..., None] * u[:, None, :]
    step = (z_cal - v[..., 2]) / t[:, None, 2]
    x, y = v[..., 0] + step * t[:, None, 0], v[..., 1] + step * t[:, None, 1]
    if calo.shape == "disc":
        on_face = np.hypot(x, y) <= calo.radius
    else:
        on_face = (np.abs(x) <= calo.width / 2) & (np.abs(y) <= calo.height / 2)
    direct = (step >= 0) & on_face & (np.hypot(x, y) >= calo.hole_radius)
    a1, b1, a2, b2 = (acc[:, k : k + 1] for k in range(4))
    interval = ((a1 <= s) & (s <= b1)) | ((a2 <= s) & (s <= b2))
    on_edge = np.min(np.abs(s[..., None] - acc[:, None, :]), axis=2) < 1e-9
    assert np.all((direct == interval) | on_edge)
    assert (direct & ~on_edge).sum() > 10_000 and (~direct).sum() > 10_000
    n_two = np.sum(acc[:, 3] > acc[:, 2])
    assert n_two > 10  # the hole splits the accepted set in some events
