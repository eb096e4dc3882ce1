"""Tests for epoch_kedro.geometry against independent references (scipy, hand-written maths)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.linalg import orthogonal_procrustes
from scipy.spatial.transform import Rotation

from epoch_kedro import geometry as g

# Human3.6M S9, camera 0 (54138969).
S9_Q = (0.15540587902069092, -0.15548215806484222, -0.7532095313072205, 0.6199594736099243)
S9_T_MM = (2044.45849609375, 4935.1171875, 1481.2275390625)
S9_F = (1145.0494384765625, 1143.7811279296875)
S9_C = (512.54150390625, 515.4514770507812)
S9_DIST = (
    -0.20709891617298126,
    0.24777518212795258,
    -0.0030751503072679043,
    -0.0009756988729350269,
    -0.00142447161488235,
)

PROPERTY = settings(max_examples=50, deadline=None)


@pytest.fixture(params=["numpy", "torch"], scope="module")
def to(request):
    """Convert test inputs to the backend under test (float64)."""
    if request.param == "numpy":
        return lambda x: np.asarray(x, dtype=np.float64)
    return lambda x: torch.as_tensor(np.asarray(x), dtype=torch.float64)


def npy(x) -> np.ndarray:
    """Back to numpy for comparison with references."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def assert_backend(out, like) -> None:
    assert isinstance(out, torch.Tensor) == isinstance(like, torch.Tensor)


def random_rotations(shape, seed=0) -> np.ndarray:
    n = int(np.prod(shape))
    return Rotation.random(n, rng=np.random.default_rng(seed)).as_matrix().reshape(*shape, 3, 3)


def assert_rotation(R, atol=1e-9) -> None:
    R = npy(R)
    eye = np.broadcast_to(np.eye(3), R.shape)
    np.testing.assert_allclose(R @ np.swapaxes(R, -1, -2), eye, atol=atol)
    np.testing.assert_allclose(np.linalg.det(R), 1.0, atol=atol)


def s9_camera(to):
    R, t = g.h36m_extrinsics(to(S9_Q), to(np.asarray(S9_T_MM) / 1000.0))
    K = g.make_K(to(S9_F[0]), to(S9_F[1]), to(S9_C[0]), to(S9_C[1]))
    return R, t, K, to(S9_DIST)


# --------------------------------------------------------------------------------------------
# intrinsics and projection
# --------------------------------------------------------------------------------------------


def test_make_K_batched(to):
    K = g.make_K(to([100.0, 200.0]), to([110.0, 210.0]), to(50.0), to([60.0, 70.0]))
    assert_backend(K, to(0.0))
    expected = np.array(
        [
            [[100.0, 0, 50], [0, 110, 60], [0, 0, 1]],
            [[200.0, 0, 50], [0, 210, 70], [0, 0, 1]],
        ]
    )
    np.testing.assert_array_equal(npy(K), expected)
    np.testing.assert_array_equal(npy(g.focal_lengths(K)), [[100, 110], [200, 210]])
    np.testing.assert_array_equal(npy(g.principal_point(K)), [[50, 60], [50, 70]])


def test_make_K_python_scalars_give_numpy():
    K = g.make_K(1000.0, 1001.0, 500.0, 501.0)
    assert isinstance(K, np.ndarray)
    assert K.shape == (3, 3)


def test_invert_K_matches_numpy_inverse_with_skew(to):
    rng = np.random.default_rng(1)
    K = np.zeros((4, 3, 3))
    K[:, 0, 0], K[:, 1, 1] = rng.uniform(300, 2000, 4), rng.uniform(300, 2000, 4)
    K[:, 0, 1] = rng.uniform(-5, 5, 4)
    K[:, :2, 2] = rng.uniform(100, 900, (4, 2))
    K[:, 2, 2] = 1.0
    np.testing.assert_allclose(npy(g.invert_K(to(K))), np.linalg.inv(K), rtol=1e-12, atol=1e-15)


def test_project_matches_hand_reference(to):
    rng = np.random.default_rng(2)
    X = rng.uniform(-1, 1, (2, 5, 3)) + np.array([0, 0, 4])
    K = np.stack([np.array([[1000.0, 0, 500], [0, 990, 510], [0, 0, 1]]) * s for s in (1, 1.5)])
    K[:, 2, 2] = 1.0
    hom = np.einsum("bij,bnj->bni", K, X)
    expected = hom[..., :2] / hom[..., 2:]
    u = g.project(to(X), to(K))
    assert_backend(u, to(X))
    assert u.shape == (2, 5, 2)
    np.testing.assert_allclose(npy(u), expected, rtol=1e-12)
    # a single K broadcasts over a batch of poses
    single = npy(g.project(to(X), to(K[0])))
    np.testing.assert_allclose(single[1], (X[1] @ K[0].T)[:, :2] / X[1, :, 2:], rtol=1e-12)


def test_distort_matches_scalar_formula(to):
    k1, k2, k3, p1, p2 = S9_DIST
    x, y = 0.31, -0.22
    r2 = x * x + y * y
    radial = 1 + k1 * r2 + k2 * r2**2 + k3 * r2**3
    tan = p1 * x + p2 * y
    expected = (x * (radial + tan) + p1 * r2, y * (radial + tan) + p2 * r2)
    out = g.distort(to([[x, y]]), to(S9_DIST))
    assert_backend(out, to(0.0))
    np.testing.assert_allclose(npy(out)[0], expected, rtol=1e-14)


def test_distort_broadcasts_dist_over_joints(to):
    rng = np.random.default_rng(3)
    x = rng.uniform(-0.5, 0.5, (3, 4, 2))
    dist = np.stack([S9_DIST, np.zeros(5), np.multiply(S9_DIST, 0.5)])
    out = npy(g.distort(to(x), to(dist)))
    for b in range(3):
        np.testing.assert_allclose(out[b], npy(g.distort(to(x[b]), to(dist[b]))), rtol=1e-14)
    np.testing.assert_allclose(out[1], x[1])


def test_undistort_inverts_distort(to):
    grid = np.stack(np.meshgrid(np.linspace(-0.69, 0.69, 25), np.linspace(-0.69, 0.69, 25)), -1)
    x = grid.reshape(-1, 2)
    x = x[np.linalg.norm(x, axis=-1) < 0.7]
    for dist in (S9_DIST, (-0.2, 0.25, -0.003, -0.001, -0.001), (0.0,) * 5):
        x_d = g.distort(to(x), to(dist))
        np.testing.assert_allclose(npy(g.undistort(x_d, to(dist))), x, atol=1e-9, rtol=0)


def test_undistort_pixels_recovers_pinhole_projection(to):
    rng = np.random.default_rng(4)
    X = rng.uniform(-1.5, 1.5, (10, 3)) + np.array([0, 0, 5])
    _, _, K, dist = s9_camera(to)
    u_d = g.project_distorted(to(X), K, dist)
    assert_backend(u_d, to(X))
    assert np.abs(npy(u_d) - npy(g.project(to(X), K))).max() > 0.1  # distortion is visible
    np.testing.assert_allclose(
        npy(g.undistort_pixels(u_d, K, dist)), npy(g.project(to(X), K)), atol=1e-6
    )


def test_project_rays_backproject_round_trip(to):
    rng = np.random.default_rng(5)
    X = rng.uniform(-2, 2, (3, 17, 3)) + np.array([0, 0, 6])
    K = g.make_K(to(1145.0), to(1143.0), to(512.0), to(515.0))
    u = g.project(to(X), K)
    r = g.rays(u, K)
    assert r.shape == (3, 17, 3)
    assert np.all(npy(r)[..., 2] == 1.0)
    np.testing.assert_allclose(npy(g.backproject(u, K, to(X[..., 2]))), X, atol=1e-6)


@PROPERTY
@given(
    pts=st.lists(
        st.tuples(st.floats(-5, 5), st.floats(-5, 5), st.floats(0.1, 50)),
        min_size=1,
        max_size=8,
    ),
    f=st.tuples(st.floats(50, 5000), st.floats(50, 5000)),
    c=st.tuples(st.floats(-100, 2000), st.floats(-100, 2000)),
)
def test_property_project_backproject(to, pts, f, c):
    X = np.asarray(pts)
    K = g.make_K(to(f[0]), to(f[1]), to(c[0]), to(c[1]))
    u = g.project(to(X), K)
    np.testing.assert_allclose(npy(g.backproject(u, K, to(X[:, 2]))), X, rtol=1e-9, atol=1e-9)


# --------------------------------------------------------------------------------------------
# extrinsics and cameras
# --------------------------------------------------------------------------------------------


def test_world_camera_round_trip(to):
    rng = np.random.default_rng(6)
    R = random_rotations((4,), seed=6)
    t = rng.normal(size=(4, 3))
    X = rng.normal(size=(4, 17, 3))
    Xc = g.world_to_camera(to(X), to(R), to(t))
    np.testing.assert_allclose(npy(Xc), np.einsum("bij,bnj->bni", R, X) + t[:, None], atol=1e-12)
    np.testing.assert_allclose(npy(g.camera_to_world(Xc, to(R), to(t))), X, atol=1e-12)
    C = g.camera_center(to(R), to(t))
    np.testing.assert_allclose(npy(g.world_to_camera(C[:, None], to(R), to(t))), 0, atol=1e-12)


def test_h36m_extrinsics_match_reference_convention(to):
    rng = np.random.default_rng(7)
    q = Rotation.random(5, rng=rng).as_quat(scalar_first=True)
    T = rng.normal(size=(5, 3)) * 3
    X = rng.normal(size=(5, 9, 3))
    R, t = g.h36m_extrinsics(to(q), to(T))
    expected = np.stack(
        [Rotation.from_quat(q[i], scalar_first=True).inv().apply(X[i] - T[i]) for i in range(5)]
    )
    np.testing.assert_allclose(npy(g.world_to_camera(to(X), R, t)), expected, atol=1e-12)
    q2, T2 = g.rt_to_h36m_extrinsics(R, t)
    np.testing.assert_allclose(np.abs(np.sum(npy(q2) * q, -1)), 1.0, atol=1e-12)  # q ~ -q
    np.testing.assert_allclose(npy(T2), T, atol=1e-12)


def test_h36m_s9_camera0_is_plausible(to):
    R, t, K, dist = s9_camera(to)
    assert_rotation(R, atol=1e-6)
    C = npy(g.camera_center(R, t))
    np.testing.assert_allclose(C, np.asarray(S9_T_MM) / 1000.0, atol=1e-9)
    assert 4.5 < np.linalg.norm(C) < 6.0
    assert 1.2 < C[2] < 1.8
    origin_cam = npy(g.world_to_camera(to(np.zeros((1, 3))), R, t))
    assert origin_cam[0, 2] > 4.0  # in front of the camera
    for u in (g.project(to(origin_cam), K), g.project_distorted(to(origin_cam), K, dist)):
        assert np.all((npy(u) > 0) & (npy(u) < 1000))
    # slightly downward-looking, and gravity points down the image
    assert 0 < npy(g.camera_elevation(R)) < np.radians(30)
    assert npy(g.gravity_direction(R))[1] > 0.9


def test_look_at_geometry(to):
    eye, target = to([3.0, -4.0, 1.5]), to([0.2, 0.3, 0.9])
    R, t = g.look_at(eye, target)
    assert_backend(R, eye)
    assert_rotation(R)
    K = g.make_K(to(1000.0), to(1000.0), to(480.0), to(520.0))
    u = npy(g.project(g.world_to_camera(to([[0.2, 0.3, 0.9], [0.2, 0.3, 1.4]]), R, t), K))
    np.testing.assert_allclose(u[0], [480.0, 520.0], atol=1e-9)
    assert u[1, 1] < u[0, 1] - 10  # world +z is image up
    np.testing.assert_allclose(u[1, 0], 480.0, atol=1e-9)  # and stays on the vertical line
    np.testing.assert_allclose(npy(g.camera_center(R, t)), npy(eye), atol=1e-12)


def test_look_at_roll(to):
    eye, target = to([0.0, -5.0, 0.0]), to([0.0, 0.0, 0.0])
    R0, _ = g.look_at(eye, target)
    R1, t1 = g.look_at(eye, target, roll=to(np.pi / 2))
    np.testing.assert_allclose(npy(R1), npy(g.rot_z(to(np.pi / 2))).T @ npy(R0), atol=1e-12)
    # the optical axis is unchanged and the target still projects to the centre
    np.testing.assert_allclose(npy(R1)[2], npy(R0)[2], atol=1e-12)
    np.testing.assert_allclose(npy(g.world_to_camera(target[None], R1, t1))[0, :2], 0, atol=1e-12)


@pytest.mark.parametrize(("h", "d"), [(1.5, 5.0), (3.0, 2.0), (-1.0, 4.0), (0.0, 3.0)])
def test_camera_elevation_and_gravity(to, h, d):
    R, _ = g.look_at(to([d, 0.0, h]), to([0.0, 0.0, 0.0]))
    np.testing.assert_allclose(npy(g.camera_elevation(R)), math.atan2(h, d), atol=1e-12)
    down = npy(g.gravity_direction(R))
    np.testing.assert_allclose(np.linalg.norm(down), 1.0)
    assert down[1] > 0.5 and abs(down[0]) < 1e-12  # +y (image down), no sideways tilt


def test_look_at_batched_and_custom_up(to):
    rng = np.random.default_rng(8)
    eye = rng.normal(size=(6, 3)) * 4
    R, _ = g.look_at(to(eye), to(np.zeros(3)), up=to([0.0, -1.0, 0.0]))
    assert R.shape == (6, 3, 3)
    assert_rotation(R)
    np.testing.assert_allclose(
        npy(g.gravity_direction(R, up=to([0.0, -1.0, 0.0])))[:, 0], 0, atol=1e-12
    )


def test_look_at_parallel_up_raises(to):
    with pytest.raises(ValueError, match="parallel"):
        g.look_at(to([0.0, 0.0, 5.0]), to([0.0, 0.0, 0.0]))


# --------------------------------------------------------------------------------------------
# rotations
# --------------------------------------------------------------------------------------------


def test_quat_to_matrix_vs_scipy(to):
    rng = np.random.default_rng(9)
    q = rng.normal(size=(3, 7, 4)) * rng.uniform(0.2, 5, (3, 7, 1))  # not normalised
    R = g.quat_to_matrix(to(q))
    assert R.shape == (3, 7, 3, 3)
    expected = Rotation.from_quat(q.reshape(-1, 4), scalar_first=True).as_matrix()
    np.testing.assert_allclose(npy(R).reshape(-1, 3, 3), expected, atol=1e-12)


def _edge_rotations() -> np.ndarray:
    axes = [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, -2, 3], [0, -1, -1]]
    rotvecs = [np.zeros(3)] + [np.pi * np.asarray(a) / np.linalg.norm(a) for a in axes]
    rotvecs += [[1e-9, 0, 0], [0, 0, np.pi - 1e-7], [0, 2.5, 0]]
    return Rotation.from_rotvec(rotvecs).as_matrix()


def test_matrix_to_quat_vs_scipy(to):
    R = np.concatenate([random_rotations((50,), seed=10), _edge_rotations()])
    q = npy(g.matrix_to_quat(to(R)))
    expected = Rotation.from_matrix(R).as_quat(scalar_first=True, canonical=True)
    assert np.all(q[:, 0] >= 0)
    np.testing.assert_allclose(np.linalg.norm(q, axis=-1), 1.0, atol=1e-12)
    # w == 0 (180 degrees) leaves the overall sign free
    np.testing.assert_allclose(np.abs(np.sum(q * expected, -1)), 1.0, atol=1e-12)
    np.testing.assert_allclose(npy(g.quat_to_matrix(to(q))), R, atol=1e-12)


def test_quat_multiply_conjugate_rotate_vs_scipy(to):
    rng = np.random.default_rng(11)
    r1, r2 = Rotation.random(8, rng=rng), Rotation.random(8, rng=rng)
    q1, q2 = r1.as_quat(scalar_first=True), r2.as_quat(scalar_first=True)
    q12 = npy(g.quat_multiply(to(q1), to(q2)))
    np.testing.assert_allclose(npy(g.quat_to_matrix(to(q12))), (r1 * r2).as_matrix(), atol=1e-12)
    np.testing.assert_allclose(
        npy(g.quat_multiply(to(q1), g.quat_conjugate(to(q1)))), [[1, 0, 0, 0]] * 8, atol=1e-12
    )
    v = rng.normal(size=(8, 3))
    np.testing.assert_allclose(npy(g.quat_rotate(to(q1), to(v))), r1.apply(v), atol=1e-12)
    # quat_rotate normalises, like quat_to_matrix
    np.testing.assert_allclose(npy(g.quat_rotate(to(3 * q1), to(v))), r1.apply(v), atol=1e-12)


def test_axis_angle_vs_scipy(to):
    rng = np.random.default_rng(12)
    aa = Rotation.random(40, rng=rng).as_rotvec() * rng.uniform(0.0, 1.0, (40, 1))
    aa = np.concatenate([aa, [[0, 0, 0], [1e-5, -2e-5, 0], [3e-4, 0, 1e-4], [0, 0, 2.0]]])
    R = g.axis_angle_to_matrix(to(aa))
    np.testing.assert_allclose(npy(R), Rotation.from_rotvec(aa).as_matrix(), atol=1e-14)
    np.testing.assert_allclose(npy(g.matrix_to_axis_angle(R)), aa, atol=1e-10)


def test_matrix_to_axis_angle_edge_cases(to):
    R = _edge_rotations()
    aa = npy(g.matrix_to_axis_angle(to(R)))
    expected = Rotation.from_matrix(R).as_rotvec()
    angle = np.linalg.norm(aa, axis=-1)
    assert np.all((angle >= 0) & (angle <= np.pi + 1e-12))
    np.testing.assert_allclose(angle, np.linalg.norm(expected, axis=-1), atol=1e-9)
    # at exactly pi the axis sign is free: compare the rotations instead
    np.testing.assert_allclose(npy(g.axis_angle_to_matrix(to(aa))), R, atol=1e-12)


@pytest.mark.parametrize(("fn", "axis"), [(g.rot_x, "x"), (g.rot_y, "y"), (g.rot_z, "z")])
def test_axis_rotations_vs_scipy(to, fn, axis):
    angles = np.linspace(-4, 4, 12).reshape(3, 4)
    R = fn(to(angles))
    assert R.shape == (3, 4, 3, 3)
    expected = Rotation.from_euler(axis, angles.reshape(-1, 1)).as_matrix().reshape(3, 4, 3, 3)
    np.testing.assert_allclose(npy(R), expected, atol=1e-14)


def test_rotation_about_axis_and_azimuth(to):
    rng = np.random.default_rng(13)
    axis = rng.normal(size=(5, 3)) * 7
    angle = rng.uniform(-3, 3, 5)
    unit = axis / np.linalg.norm(axis, axis=-1, keepdims=True)
    expected = Rotation.from_rotvec(unit * angle[:, None]).as_matrix()
    np.testing.assert_allclose(
        npy(g.rotation_about_axis(to(axis), to(angle))), expected, atol=1e-12
    )
    np.testing.assert_allclose(
        npy(g.azimuth_rotation(to(angle))), npy(g.rot_z(to(angle))), atol=1e-14
    )
    np.testing.assert_allclose(
        npy(g.azimuth_rotation(to(angle), up=to(axis))), expected, atol=1e-12
    )


def test_rot6d(to):
    R = random_rotations((4, 5), seed=14)
    d6 = g.matrix_to_rot6d(to(R))
    assert d6.shape == (4, 5, 6)
    np.testing.assert_array_equal(npy(d6)[..., :3], R[..., :, 0])
    np.testing.assert_array_equal(npy(d6)[..., 3:], R[..., :, 1])
    np.testing.assert_allclose(npy(g.rot6d_to_matrix(d6)), R, atol=1e-12)
    raw = np.random.default_rng(15).normal(size=(30, 6))
    R2 = g.rot6d_to_matrix(to(raw))
    assert_rotation(R2)
    # Gram-Schmidt keeps the first column's direction and the span of the first two
    c0 = raw[:, :3] / np.linalg.norm(raw[:, :3], axis=-1, keepdims=True)
    np.testing.assert_allclose(npy(R2)[..., :, 0], c0, atol=1e-12)
    np.testing.assert_allclose(np.sum(npy(R2)[..., :, 2] * raw[:, 3:], -1), 0, atol=1e-12)


quaternions = st.tuples(*[st.floats(-1, 1)] * 4).filter(lambda q: np.linalg.norm(q) > 0.1)


@PROPERTY
@given(q=quaternions)
def test_property_quaternion_round_trips(to, q):
    q = np.asarray(q)
    unit = q / np.linalg.norm(q)
    R = g.quat_to_matrix(to(q))
    assert_rotation(R)
    q2 = npy(g.matrix_to_quat(R))
    assert q2[0] >= 0
    np.testing.assert_allclose(abs(q2 @ unit), 1.0, atol=1e-10)
    aa = g.matrix_to_axis_angle(R)
    np.testing.assert_allclose(npy(g.axis_angle_to_matrix(aa)), npy(R), atol=1e-10)
    np.testing.assert_allclose(npy(g.rot6d_to_matrix(g.matrix_to_rot6d(R))), npy(R), atol=1e-12)


# --------------------------------------------------------------------------------------------
# procrustes
# --------------------------------------------------------------------------------------------


def test_procrustes_vs_scipy(to):
    rng = np.random.default_rng(16)
    pred = rng.normal(size=(17, 3))
    gt = 1.3 * pred @ random_rotations((), seed=17).T + rng.normal(size=3)
    gt += rng.normal(scale=0.05, size=gt.shape)
    aligned, R, s, t = g.procrustes(to(pred), to(gt))
    P, G = pred - pred.mean(0), gt - gt.mean(0)
    omega, sv_sum = orthogonal_procrustes(P, G)  # argmin |P omega - G|
    np.testing.assert_allclose(npy(R), omega.T, atol=1e-10)
    np.testing.assert_allclose(npy(s), sv_sum / np.sum(P**2), rtol=1e-10)
    np.testing.assert_allclose(npy(aligned), npy(s) * pred @ npy(R).T + npy(t), atol=1e-12)
    # aligned is the optimum: perturbing the rotation only increases the error
    err = np.sum((npy(aligned) - gt) ** 2)
    bumped = npy(s) * pred @ (Rotation.from_rotvec([0, 0, 1e-3]).as_matrix() @ npy(R)).T
    assert err < np.sum((bumped + npy(t) - gt) ** 2)


def test_procrustes_recovers_known_similarity(to):
    rng = np.random.default_rng(18)
    pred = rng.normal(size=(6, 17, 3))
    R_true = random_rotations((6,), seed=19)
    s_true = rng.uniform(0.5, 2.0, 6)
    t_true = rng.normal(size=(6, 3))
    gt = s_true[:, None, None] * np.einsum("bij,bnj->bni", R_true, pred) + t_true[:, None]
    aligned, R, s, t = g.procrustes(to(pred), to(gt))
    assert_backend(aligned, to(pred))
    assert (aligned.shape, R.shape, s.shape, t.shape) == ((6, 17, 3), (6, 3, 3), (6,), (6, 3))
    np.testing.assert_allclose(npy(R), R_true, atol=1e-8)
    np.testing.assert_allclose(npy(s), s_true, atol=1e-8)
    np.testing.assert_allclose(npy(t), t_true, atol=1e-8)
    np.testing.assert_allclose(npy(aligned), gt, atol=1e-8)
    _, R1, s1, _ = g.procrustes(to(pred), to(gt), scale=False)
    np.testing.assert_array_equal(npy(s1), 1.0)
    np.testing.assert_allclose(npy(R1), R_true, atol=1e-8)


def test_procrustes_reflection(to):
    rng = np.random.default_rng(20)
    pred = rng.normal(size=(17, 3))
    mirrored = pred * [-1.0, 1.0, 1.0]
    _, R, _, _ = g.procrustes(to(pred), to(mirrored))
    np.testing.assert_allclose(np.linalg.det(npy(R)), 1.0, atol=1e-10)
    aligned, R, s, _ = g.procrustes(to(pred), to(mirrored), allow_reflection=True)
    np.testing.assert_allclose(np.linalg.det(npy(R)), -1.0, atol=1e-10)
    np.testing.assert_allclose(npy(s), 1.0, atol=1e-10)
    np.testing.assert_allclose(npy(aligned), mirrored, atol=1e-10)


# --------------------------------------------------------------------------------------------
# torch specifics: autograd, dtype, device
# --------------------------------------------------------------------------------------------


def test_torch_gradients_are_finite():
    rng = np.random.default_rng(21)
    pred = torch.tensor(rng.normal(size=(2, 17, 3)), requires_grad=True)
    gt = torch.tensor(rng.normal(size=(2, 17, 3)))
    aligned, *_ = g.procrustes(pred, gt)
    ((aligned - gt) ** 2).sum().backward()
    assert torch.isfinite(pred.grad).all()

    for aa0 in (np.zeros((1, 3)), rng.normal(size=(5, 3))):
        aa = torch.tensor(aa0, requires_grad=True)
        g.axis_angle_to_matrix(aa).square().sum().backward()
        assert torch.isfinite(aa.grad).all()

    d6 = torch.tensor(rng.normal(size=(5, 6)), requires_grad=True)
    g.rot6d_to_matrix(d6)[..., 0, 1].sum().backward()
    assert torch.isfinite(d6.grad).all()

    R = torch.tensor(
        np.concatenate([np.eye(3)[None], random_rotations((3,), seed=22)]), requires_grad=True
    )
    g.matrix_to_axis_angle(R).sum().backward()
    assert torch.isfinite(R.grad).all()


def test_axis_angle_gradient_at_zero_is_skew():
    aa = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    jac = torch.autograd.functional.jacobian(g.axis_angle_to_matrix, aa)
    for i in range(3):
        np.testing.assert_allclose(jac[..., i].numpy(), npy(g._skew(np.eye(3)[i])), atol=1e-15)


def test_gradcheck():
    rng = np.random.default_rng(23)
    for aa in (rng.normal(size=(4, 3)), rng.normal(size=(2, 3)) * 1e-4):
        assert torch.autograd.gradcheck(
            g.axis_angle_to_matrix, (torch.tensor(aa, requires_grad=True),)
        )
    d6 = torch.tensor(rng.normal(size=(4, 6)), requires_grad=True)
    assert torch.autograd.gradcheck(g.rot6d_to_matrix, (d6,))


def test_torch_dtype_and_mixed_inputs():
    X = torch.rand(4, 3, dtype=torch.float32) + torch.tensor([0.0, 0.0, 2.0])
    K = np.array([[500.0, 0, 320], [0, 500, 240], [0, 0, 1]])  # numpy float64
    u = g.project(X, K)
    assert isinstance(u, torch.Tensor) and u.dtype == torch.float32
    assert g.axis_angle_to_matrix(torch.zeros(3, dtype=torch.float32)).dtype == torch.float32
    assert g.rot_z(np.float32(0.3)).dtype == np.float32
    R, t = g.look_at(torch.tensor([5.0, 0.0, 1.0]), (0.0, 0.0, 0.0))
    assert R.dtype == torch.float32 and t.dtype == torch.float32


# --------------------------------------------------------------------------------------------
# input validation
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fn", "shapes", "message"),
    [
        (g.project, [(5, 3), (2, 3)], r"K must have shape \(\.\.\., 3, 3\), got \(2, 3\)"),
        (g.project, [(5, 2), (3, 3)], r"X must have shape \(\.\.\., J, 3\), got \(5, 2\)"),
        (g.distort, [(5, 2), (4,)], r"dist must have shape \(\.\.\., 5\), got \(4,\)"),
        (g.undistort, [(5, 3), (5,)], r"x_d must have shape \(\.\.\., J, 2\)"),
        (g.rays, [(2,), (3, 3)], r"u must have shape \(\.\.\., J, 2\), got \(2,\)"),
        (g.quat_to_matrix, [(3,)], r"q must have shape \(\.\.\., 4\)"),
        (g.matrix_to_quat, [(3, 4)], r"R must have shape \(\.\.\., 3, 3\)"),
        (g.world_to_camera, [(5, 3), (3, 3), (2,)], r"^t must have shape"),
        (g.procrustes, [(5, 2), (5, 2)], r"^pred must have shape"),
        (g.rot6d_to_matrix, [(5,)], r"^d6 must have shape"),
        (g.h36m_extrinsics, [(3,), (3,)], r"^orientation must have shape"),
        (g.look_at, [(2,), (3,)], r"^eye must have shape"),
    ],
)
def test_shape_errors(to, fn, shapes, message):
    with pytest.raises(ValueError, match=message):
        fn(*[to(np.ones(shape)) for shape in shapes])


def test_resizing_an_image_moves_pixels_and_intrinsics_alike():
    rng = np.random.default_rng(3)
    K = g.make_K(
        rng.uniform(500, 2000, 4),
        rng.uniform(500, 2000, 4),
        rng.uniform(400, 600, 4),
        rng.uniform(400, 600, 4),
    )
    scale = rng.uniform(0.05, 2.0, (4, 2))
    X = rng.normal(size=(4, 17, 3)) + np.array([0.0, 0.0, 5.0])
    np.testing.assert_allclose(
        g.project(X, g.resize_intrinsics(K, scale)),
        g.resize_pixels(g.project(X, K), scale),
        atol=1e-9,
    )
    np.testing.assert_allclose(
        g.resize_intrinsics(g.resize_intrinsics(K, scale), 1 / scale), K, atol=1e-9
    )
    torch_K = g.resize_intrinsics(torch.as_tensor(K), torch.as_tensor(scale))
    np.testing.assert_allclose(torch_K.numpy(), g.resize_intrinsics(K, scale), atol=1e-12)


def test_a_crop_is_a_pinhole_camera_with_exact_intrinsics():
    rng = np.random.default_rng(5)
    K = g.make_K(rng.uniform(500, 2000, 4), rng.uniform(500, 2000, 4), 500.0, 480.0)
    boxes = np.column_stack([rng.uniform(200, 800, (4, 2)), rng.uniform(50, 600, 4)])
    X = rng.normal(size=(4, 17, 3)) + np.array([0.0, 0.0, 5.0])
    crop = 96
    u_crop = g.project(X, g.crop_intrinsics(K, boxes, crop))
    np.testing.assert_allclose(u_crop, g.crop_pixels(g.project(X, K), boxes, crop), atol=1e-9)
    np.testing.assert_allclose(g.uncrop_pixels(u_crop, boxes, crop), g.project(X, K), atol=1e-9)
    # By hand: the box's left edge is the crop's pixel edge -0.5; its centre the crop's centre.
    edge = boxes[:, None, :2] - boxes[:, None, 2:] / 2
    np.testing.assert_allclose(g.crop_pixels(edge, boxes, crop), -0.5, atol=1e-12)
    np.testing.assert_allclose(
        g.crop_pixels(boxes[:, None, :2], boxes, crop), (crop - 1) / 2, atol=1e-12
    )
    torch_K = g.crop_intrinsics(torch.as_tensor(K), torch.as_tensor(boxes), crop)
    np.testing.assert_allclose(torch_K.numpy(), g.crop_intrinsics(K, boxes, crop), atol=1e-12)


def test_a_crop_of_the_whole_frame_is_a_resize():
    K = g.make_K(1000.0, 1000.0, 512.0, 500.0)
    W = 1000
    whole = np.array([(W - 1) / 2, (W - 1) / 2, W])
    np.testing.assert_allclose(
        g.crop_intrinsics(K, whole, 64),
        g.resize_intrinsics(K, np.array([64 / W, 64 / W])),
        atol=1e-12,
    )
