"""Camera geometry and rotations: the single place for projection, distortion and SO(3) maths.

Every function accepts numpy arrays or torch tensors (torch if any argument is a tensor) with
arbitrary leading batch dimensions ``...`` that broadcast, and is written once against the shared
numpy/torch API returned by ``_xp``. Torch results keep the input dtype/device and are
differentiable.

Conventions:

- Camera frame is OpenCV: x right, y down, z forward; ``X_cam = R @ X_world + t``.
- Quaternions are (w, x, y, z), Hamilton product.
- ``K = [[fx, s, cx], [0, fy, cy], [0, 0, 1]]`` (skew ``s`` is normally 0).
- Distortion ``dist = (k1, k2, k3, p1, p2)`` with the Human3.6M / VideoPose3D model
  ``x'' = x' * (1 + k1 r2 + k2 r2^2 + k3 r2^3 + p.x') + p * r2``, which is *not* OpenCV's.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType
from typing import Any, TypeAlias

import numpy as np
import torch

Array: TypeAlias = Any  # np.ndarray | torch.Tensor; Any keeps arithmetic on it type-checkable
ArrayLike: TypeAlias = Any  # Array, a Python scalar or a (nested) sequence of numbers

_UP = (0.0, 0.0, 1.0)
# Below this squared angle the Taylor series of sin(x)/x etc. are exact to float64 precision.
_SMALL_ANGLE2 = 1e-6


# --------------------------------------------------------------------------------------------
# numpy / torch dispatch
# --------------------------------------------------------------------------------------------


def _xp(x: ArrayLike) -> ModuleType:
    """The array module (``torch`` or ``numpy``) that implements ``x``."""
    return torch if isinstance(x, torch.Tensor) else np


def _arrays(*xs: ArrayLike) -> tuple[ModuleType, list[Array]]:
    """Convert all arguments to one backend and one floating dtype (torch wins if present)."""
    tensors = [x for x in xs if isinstance(x, torch.Tensor)]
    if tensors:
        dtype = torch.get_default_dtype()
        floats = [x.dtype for x in tensors if x.is_floating_point()]
        if floats:
            dtype = floats[0]
            for d in floats[1:]:
                dtype = torch.promote_types(dtype, d)
        device = tensors[0].device
        return torch, [torch.as_tensor(x, dtype=dtype, device=device) for x in xs]
    out = [np.asarray(x) for x in xs]
    floats = [x.dtype for x in out if np.issubdtype(x.dtype, np.floating)]
    dtype = np.result_type(*floats) if floats else np.float64
    return np, [x.astype(dtype, copy=False) for x in out]


def _const(values: ArrayLike, like: Array) -> Array:
    """``values`` as an array on the backend, dtype and device of ``like``."""
    if isinstance(like, torch.Tensor):
        return torch.as_tensor(values, dtype=like.dtype, device=like.device)
    return np.asarray(values, dtype=like.dtype)


def _check(x: Array, name: str, *suffix: int | str) -> None:
    """Raise ValueError unless the trailing dims of ``x`` match ``suffix`` (str = any size)."""
    shape = tuple(x.shape)
    n = len(suffix)
    ok = len(shape) >= n and all(
        isinstance(s, str) or shape[len(shape) - n + i] == s for i, s in enumerate(suffix)
    )
    if not ok:
        expected = ", ".join(str(s) for s in ("...", *suffix))
        raise ValueError(f"{name} must have shape ({expected}), got {shape}")


def _T(m: Array) -> Array:
    """Swap the last two axes (batched matrix transpose)."""
    return m.swapaxes(-1, -2)


def _matvec(m: Array, v: Array) -> Array:
    """Batched ``m @ v``: m (..., A, B), v (..., B) -> (..., A)."""
    return (m @ v[..., None])[..., 0]


def _dot(a: Array, b: Array) -> Array:
    """Dot product over the last axis: (..., N), (..., N) -> (...,)."""
    return (a * b).sum(-1)


def _cross(a: Array, b: Array) -> Array:
    """Cross product over the last axis with broadcasting: (..., 3), (..., 3) -> (..., 3)."""
    xp = _xp(a)
    ax, ay, az = a[..., 0], a[..., 1], a[..., 2]
    bx, by, bz = b[..., 0], b[..., 1], b[..., 2]
    return xp.stack([ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx], -1)


def _normalize(v: Array) -> Array:
    """Unit vectors along the last axis: (..., N) -> (..., N)."""
    return v / _xp(v).sqrt(_dot(v, v))[..., None]


def _matrix(rows: Sequence[Sequence[Array]]) -> Array:
    """Assemble (..., 3, 3) from a nested 3x3 list of (...,) arrays of broadcastable shapes."""
    xp = _xp(rows[0][0])
    entries = [e for row in rows for e in row]
    flat = torch.broadcast_tensors(*entries) if xp is torch else np.broadcast_arrays(*entries)
    return xp.stack(flat, -1).reshape((*flat[0].shape, 3, 3))


def _skew(v: Array) -> Array:
    """Cross-product matrix [v]x: (..., 3) -> (..., 3, 3)."""
    x, y, z = v[..., 0], v[..., 1], v[..., 2]
    o = _xp(v).zeros_like(x)
    return _matrix([[o, -z, y], [z, o, -x], [-y, x, o]])


# --------------------------------------------------------------------------------------------
# intrinsics and projection
# --------------------------------------------------------------------------------------------


def make_K(fx: ArrayLike, fy: ArrayLike, cx: ArrayLike, cy: ArrayLike) -> Array:
    """Pinhole intrinsics matrix: fx, fy, cx, cy (...,) broadcastable -> K (..., 3, 3)."""
    xp, (fx, fy, cx, cy) = _arrays(fx, fy, cx, cy)
    o, one = xp.zeros_like(fx), xp.ones_like(fx)
    return _matrix([[fx, o, cx], [o, fy, cy], [o, o, one]])


def invert_K(K: Array) -> Array:
    """Closed-form inverse of upper-triangular intrinsics: K (..., 3, 3) -> K^-1 (..., 3, 3)."""
    xp, (K,) = _arrays(K)
    _check(K, "K", 3, 3)
    fx, s, cx = K[..., 0, 0], K[..., 0, 1], K[..., 0, 2]
    fy, cy = K[..., 1, 1], K[..., 1, 2]
    o, one = xp.zeros_like(fx), xp.ones_like(fx)
    return _matrix(
        [
            [1 / fx, -s / (fx * fy), (s * cy - cx * fy) / (fx * fy)],
            [o, 1 / fy, -cy / fy],
            [o, o, one],
        ]
    )


def focal_lengths(K: Array) -> Array:
    """Focal lengths in pixels: K (..., 3, 3) -> (fx, fy) (..., 2)."""
    xp, (K,) = _arrays(K)
    _check(K, "K", 3, 3)
    return xp.stack([K[..., 0, 0], K[..., 1, 1]], -1)


def principal_point(K: Array) -> Array:
    """Principal point in pixels: K (..., 3, 3) -> (cx, cy) (..., 2)."""
    _, (K,) = _arrays(K)
    _check(K, "K", 3, 3)
    return K[..., :2, 2]


def _affine(x: Array, K: Array) -> Array:
    """Apply the 2D affine part of K: x (..., J, 2), K (..., 3, 3) -> (..., J, 2)."""
    return x @ _T(K[..., :2, :2]) + K[..., None, :2, 2]


def project_normalized(X: Array) -> Array:
    """Perspective division (K = I): X (..., J, 3) camera coords -> (..., J, 2) normalized."""
    _check(X, "X", "J", 3)
    return X[..., :2] / X[..., 2:]


def project(X: Array, K: Array) -> Array:
    """Pinhole projection: X (..., J, 3) camera coords, K (..., 3, 3) -> u (..., J, 2) pixels."""
    _, (X, K) = _arrays(X, K)
    _check(K, "K", 3, 3)
    return _affine(project_normalized(X), K)


def _distortion_terms(x: Array, dist: Array) -> tuple[Array, Array, Array]:
    """Radial factor (..., J, 1), tangential p (..., 1, 2) and r2 (..., J, 1) at x (..., J, 2)."""
    k1, k2, k3 = dist[..., None, 0:1], dist[..., None, 1:2], dist[..., None, 2:3]
    p = dist[..., None, 3:5]
    r2 = (x * x).sum(-1)[..., None]
    radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
    return radial, p, r2


def distort(x: Array, dist: Array) -> Array:
    """VideoPose3D lens distortion: x (..., J, 2) normalized, dist (..., 5) -> (..., J, 2)."""
    _, (x, dist) = _arrays(x, dist)
    _check(x, "x", "J", 2)
    _check(dist, "dist", 5)
    radial, p, r2 = _distortion_terms(x, dist)
    return x * (radial + _dot(p, x)[..., None]) + p * r2


#: Fixed-point iterations that invert the lens model (the one default of every caller and of
#: ``normalization.undistort_iterations``).
UNDISTORT_ITERATIONS = 30


def undistort(x_d: Array, dist: Array, iterations: int = UNDISTORT_ITERATIONS) -> Array:
    """Inverse of ``distort`` (fixed point): x_d (..., J, 2), dist (..., 5) -> x (..., J, 2)."""
    _, (x_d, dist) = _arrays(x_d, dist)
    _check(x_d, "x_d", "J", 2)
    _check(dist, "dist", 5)
    x = x_d
    # x_d = x * (radial(x) + p.x) + p * r2(x): solve for x with the x-dependent terms frozen.
    # The map is a strong contraction for realistic lenses, so the error shrinks geometrically.
    for _ in range(iterations):
        radial, p, r2 = _distortion_terms(x, dist)
        x = (x_d - p * r2) / (radial + _dot(p, x)[..., None])
    return x


def project_distorted(X: Array, K: Array, dist: Array) -> Array:
    """Projection with distortion: X (..., J, 3), K (..., 3, 3), dist (..., 5) -> (..., J, 2)."""
    _, (X, K, dist) = _arrays(X, K, dist)
    _check(X, "X", "J", 3)
    _check(K, "K", 3, 3)
    return _affine(distort(X[..., :2] / X[..., 2:], dist), K)


def undistort_pixels(
    u: Array, K: Array, dist: Array, iterations: int = UNDISTORT_ITERATIONS
) -> Array:
    """Pinhole pixels of distorted observations: u (..., J, 2), K, dist -> (..., J, 2)."""
    _, (u, K, dist) = _arrays(u, K, dist)
    _check(u, "u", "J", 2)
    x_d = _affine(u, invert_K(K))
    return _affine(undistort(x_d, dist, iterations), K)


def resize_pixels(u: Array, scale: Array) -> Array:
    """Pixel coordinates after resizing the image by ``scale`` (..., 2) per axis: (..., J, 2).

    Pixel centres map as ``u' = (u + 0.5) * s - 0.5`` (the convention of image resampling).
    """
    return (u + 0.5) * scale[..., None, :] - 0.5


def resize_intrinsics(K: Array, scale: Array) -> Array:
    """Intrinsics of an image resized by ``scale`` (..., 2) per axis: K (..., 3, 3)."""
    xp, (K, scale) = _arrays(K, scale)
    _check(K, "K", 3, 3)
    rows = xp.concatenate([scale, xp.ones_like(scale[..., :1])], -1)[..., :, None]
    offset = xp.concatenate([0.5 * scale - 0.5, xp.zeros_like(scale[..., :1])], -1)
    out = K * rows
    return xp.concatenate([out[..., :2], out[..., 2:] + offset[..., :, None]], -1)


def crop_pixels(u: Array, boxes: Array, crop_size: int) -> Array:
    """Full-frame pixels -> pixels of square crops: u (..., J, 2), boxes (..., 3) -> (..., J, 2).

    A box is ``(cx, cy, b)``: its centre and side in full-frame pixels. The crop covers the
    continuous frame range ``[c - b/2, c + b/2]`` and is resampled to ``crop_size`` pixels, with
    the pixel-centre convention of :func:`resize_pixels` (a box of the whole frame is a resize).
    """
    _, (u, boxes) = _arrays(u, boxes)
    _check(boxes, "boxes", 3)
    side = boxes[..., None, 2:3]
    return (u - boxes[..., None, :2] + 0.5 * side) * (crop_size / side) - 0.5


def uncrop_pixels(u: Array, boxes: Array, crop_size: int) -> Array:
    """Crop pixels -> full-frame pixels (the inverse of :func:`crop_pixels`)."""
    _, (u, boxes) = _arrays(u, boxes)
    _check(boxes, "boxes", 3)
    side = boxes[..., None, 2:3]
    return (u + 0.5) * (side / crop_size) + boxes[..., None, :2] - 0.5 * side


def crop_intrinsics(K: Array, boxes: Array, crop_size: int) -> Array:
    """Intrinsics of square crops: ``K_crop = A K`` with ``A`` the map of :func:`crop_pixels`.

    A crop of a pinhole image is itself a pinhole camera: the focal length scales by
    ``crop_size / b`` and the principal point shifts with the box. K (..., 3, 3), boxes (..., 3).
    """
    xp, (K, boxes) = _arrays(K, boxes)
    _check(K, "K", 3, 3)
    _check(boxes, "boxes", 3)
    s = crop_size / boxes[..., 2]
    shift = -(boxes[..., :2] - 0.5 * boxes[..., 2:3]) * s[..., None] - 0.5
    zero, one = xp.zeros_like(s), xp.ones_like(s)
    A = _matrix([[s, zero, shift[..., 0]], [zero, s, shift[..., 1]], [zero, zero, one]])
    return A @ K


def rays(u: Array, K: Array) -> Array:
    """Viewing rays K^-1 [u, 1]: u (..., J, 2) pixels, K (..., 3, 3) -> (..., J, 3), z == 1."""
    xp, (u, K) = _arrays(u, K)
    _check(u, "u", "J", 2)
    x = _affine(u, invert_K(K))
    return xp.concatenate([x, xp.ones_like(x[..., :1])], -1)


def normalize_2d(ray_xy: Array, root: int = 0) -> tuple[Array, Array]:
    """Root-centre and scale-normalise 2D poses: ``(N, J, 2) -> (N, J, 2), (N,)``.

    The scale is the RMS distance of the joints from the root joint (index ``root``). Works on
    numpy arrays and torch tensors (training normalises virtual views with it).
    """
    centred = ray_xy - ray_xy[:, root : root + 1]
    scale = ((centred**2).sum(-1).mean(-1)) ** 0.5
    return centred / scale.clip(min=1e-12)[:, None, None], scale


def backproject(u: Array, K: Array, depth: Array) -> Array:
    """Lift pixels to 3D: u (..., J, 2), K (..., 3, 3), depth Z (..., J) -> X (..., J, 3)."""
    _, (u, K, depth) = _arrays(u, K, depth)
    return depth[..., None] * rays(u, K)


# --------------------------------------------------------------------------------------------
# extrinsics
# --------------------------------------------------------------------------------------------


def world_to_camera(X: Array, R: Array, t: Array) -> Array:
    """R X + t: X (..., J, 3) world, R (..., 3, 3), t (..., 3) -> (..., J, 3) camera."""
    _, (X, R, t) = _arrays(X, R, t)
    _check(X, "X", "J", 3)
    _check(R, "R", 3, 3)
    _check(t, "t", 3)
    return X @ _T(R) + t[..., None, :]


def camera_to_world(X: Array, R: Array, t: Array) -> Array:
    """R^T (X - t): X (..., J, 3) camera, R (..., 3, 3), t (..., 3) -> (..., J, 3) world."""
    _, (X, R, t) = _arrays(X, R, t)
    _check(X, "X", "J", 3)
    _check(R, "R", 3, 3)
    _check(t, "t", 3)
    return (X - t[..., None, :]) @ R


def camera_center(R: Array, t: Array) -> Array:
    """World position of the camera -R^T t: R (..., 3, 3), t (..., 3) -> (..., 3)."""
    _, (R, t) = _arrays(R, t)
    _check(R, "R", 3, 3)
    _check(t, "t", 3)
    return -_matvec(_T(R), t)


def h36m_extrinsics(orientation: Array, translation: Array) -> tuple[Array, Array]:
    """Human3.6M camera (q, T) with X_c = q^-1 (X_w - T) -> (R (..., 3, 3), t (..., 3))."""
    _, (q, T) = _arrays(orientation, translation)
    _check(q, "orientation", 4)
    _check(T, "translation", 3)
    R = _T(quat_to_matrix(q))
    return R, -_matvec(R, T)


def rt_to_h36m_extrinsics(R: Array, t: Array) -> tuple[Array, Array]:
    """Inverse of ``h36m_extrinsics``: R (..., 3, 3), t (..., 3) -> (q (..., 4), T (..., 3))."""
    _, (R, t) = _arrays(R, t)
    _check(R, "R", 3, 3)
    _check(t, "t", 3)
    return matrix_to_quat(_T(R)), camera_center(R, t)


def look_at(
    eye: ArrayLike, target: ArrayLike, up: ArrayLike = _UP, *, roll: ArrayLike = 0.0
) -> tuple[Array, Array]:
    """Upright OpenCV camera at eye looking at target: (..., 3) x2 -> R (..., 3, 3), t (..., 3).

    World ``up`` (3,) or (..., 3) appears up in the image. ``roll`` (...,) radians turns the
    camera about its optical axis, its x axis towards its y axis (``R -> rot_z(roll)^T R``).
    """
    xp, (eye, target, up, roll) = _arrays(eye, target, up, roll)
    _check(eye, "eye", 3)
    _check(target, "target", 3)
    _check(up, "up", 3)
    z = _normalize(target - eye)
    down = -_normalize(up)
    y = down - _dot(down, z)[..., None] * z
    if bool((_dot(y, y) < 1e-12).any()):
        raise ValueError("look_at: viewing direction is parallel to `up`")
    y = _normalize(y)
    R = xp.stack([_cross(y, z), y, z], -2)
    R = _T(rot_z(roll)) @ R
    return R, -_matvec(R, eye)


def gravity_direction(R: Array, up: ArrayLike = _UP) -> Array:
    """World "down" (-up, unit) in camera coordinates: R (..., 3, 3) -> (..., 3)."""
    _, (R, up) = _arrays(R, up)
    _check(R, "R", 3, 3)
    _check(up, "up", 3)
    return _matvec(R, -_normalize(up))


def camera_elevation(R: Array, up: ArrayLike = _UP) -> Array:
    """Pitch of the optical axis below horizontal (>0 looking down): R (..., 3, 3) -> (...,)."""
    xp, (R, up) = _arrays(R, up)
    _check(R, "R", 3, 3)
    _check(up, "up", 3)
    # R^T e_z (the optical axis in world) is the last row of R.
    return xp.arcsin(xp.clip(-_dot(R[..., 2, :], _normalize(up)), -1.0, 1.0))


# --------------------------------------------------------------------------------------------
# rotations
# --------------------------------------------------------------------------------------------


def quat_to_matrix(q: Array) -> Array:
    """Rotation matrix of a (normalised) wxyz quaternion: q (..., 4) -> R (..., 3, 3)."""
    _, (q,) = _arrays(q)
    _check(q, "q", 4)
    w, x, y, z = (_normalize(q)[..., i] for i in range(4))
    return _matrix(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def _sqrt_pos(x: Array) -> Array:
    """sqrt(max(x, 0)) with a zero (not infinite) gradient where x <= 0."""
    xp = _xp(x)
    pos = x > 0
    return xp.where(pos, xp.sqrt(xp.where(pos, x, xp.ones_like(x))), xp.zeros_like(x))


def matrix_to_quat(R: Array) -> Array:
    """Unit wxyz quaternion with w >= 0 of a rotation matrix: R (..., 3, 3) -> q (..., 4)."""
    xp, (R,) = _arrays(R)
    _check(R, "R", 3, 3)
    m00, m01, m02 = R[..., 0, 0], R[..., 0, 1], R[..., 0, 2]
    m10, m11, m12 = R[..., 1, 0], R[..., 1, 1], R[..., 1, 2]
    m20, m21, m22 = R[..., 2, 0], R[..., 2, 1], R[..., 2, 2]
    # 4 q_i^2 for each component; dividing the off-diagonal sums by the largest one is exact-ish.
    four_sq = xp.stack(
        [1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22], -1
    )
    two_q = _sqrt_pos(four_sq)  # 2 |q_i|
    # Candidate i: component i from the diagonal, the others from off-diagonal sums / (4 q_i).
    cands = xp.stack(
        [
            xp.stack([four_sq[..., 0], m21 - m12, m02 - m20, m10 - m01], -1),
            xp.stack([m21 - m12, four_sq[..., 1], m10 + m01, m02 + m20], -1),
            xp.stack([m02 - m20, m10 + m01, four_sq[..., 2], m12 + m21], -1),
            xp.stack([m10 - m01, m20 + m02, m21 + m12, four_sq[..., 3]], -1),
        ],
        -2,
    )
    # The chosen candidate has 2 q_i >= 1, so the floor only guards the discarded ones.
    cands = cands / (2 * xp.clip(two_q, 0.1, None))[..., None]
    best = four_sq.argmax(-1)[..., None]
    q = xp.where(best == 0, cands[..., 0, :], cands[..., 3, :])
    q = xp.where(best == 1, cands[..., 1, :], q)
    q = xp.where(best == 2, cands[..., 2, :], q)
    q = xp.where(q[..., :1] < 0, -q, q)
    return _normalize(q)


def quat_multiply(q1: Array, q2: Array) -> Array:
    """Hamilton product q1 ⊗ q2 (apply q2 then q1): (..., 4), (..., 4) -> (..., 4)."""
    xp, (q1, q2) = _arrays(q1, q2)
    _check(q1, "q1", 4)
    _check(q2, "q2", 4)
    w1, v1 = q1[..., :1], q1[..., 1:]
    w2, v2 = q2[..., :1], q2[..., 1:]
    w = w1 * w2 - _dot(v1, v2)[..., None]
    v = w1 * v2 + w2 * v1 + _cross(v1, v2)
    return xp.concatenate([w, v], -1)


def quat_conjugate(q: Array) -> Array:
    """Conjugate (inverse for unit q): q (..., 4) -> (..., 4)."""
    xp, (q,) = _arrays(q)
    _check(q, "q", 4)
    return xp.concatenate([q[..., :1], -q[..., 1:]], -1)


def quat_rotate(q: Array, v: Array) -> Array:
    """Rotate vectors by (normalised) quaternions: q (..., 4), v (..., 3) -> (..., 3)."""
    _, (q, v) = _arrays(q, v)
    _check(q, "q", 4)
    _check(v, "v", 3)
    q = _normalize(q)
    w, u = q[..., :1], q[..., 1:]
    # q v q* expanded: v + 2w (u x v) + 2 u x (u x v).
    c = 2 * _cross(u, v)
    return v + w * c + _cross(u, c)


def axis_angle_to_matrix(aa: Array) -> Array:
    """Rodrigues' formula, smooth at 0: axis * angle (..., 3) -> R (..., 3, 3)."""
    xp, (aa,) = _arrays(aa)
    _check(aa, "aa", 3)
    theta2 = _dot(aa, aa)
    small = theta2 < _SMALL_ANGLE2
    # Substitute 1 in the small branch so neither branch yields a nan gradient under `where`.
    theta = xp.sqrt(xp.where(small, xp.ones_like(theta2), theta2))
    a = xp.where(small, 1 - theta2 / 6 + theta2**2 / 120, xp.sin(theta) / theta)
    # (1 - cos θ)/θ² written as 2 sin²(θ/2)/θ² to avoid cancellation.
    b = xp.where(small, 0.5 - theta2 / 24 + theta2**2 / 720, 2 * xp.sin(theta / 2) ** 2 / theta**2)
    S = _skew(aa)
    eye = _const(np.eye(3), aa)
    return eye + a[..., None, None] * S + b[..., None, None] * (S @ S)


def matrix_to_axis_angle(R: Array) -> Array:
    """Rotation vector with angle in [0, pi]: R (..., 3, 3) -> axis * angle (..., 3)."""
    xp, (R,) = _arrays(R)
    q = matrix_to_quat(R)
    w, v = q[..., 0], q[..., 1:]
    s2 = _dot(v, v)
    small = s2 < _SMALL_ANGLE2
    # Substitute 1 in the unused branch so neither divides by zero (w = 0 at 180 degrees).
    s = xp.sqrt(xp.where(small, xp.ones_like(s2), s2))
    w_small = xp.where(small, w, xp.ones_like(w))
    # angle / |v| = 2 atan2(s, w) / s, with its series 2/w (1 - s²/(3w²)) near the identity.
    series = 2 / w_small * (1 - s2 / (3 * w_small**2))
    factor = xp.where(small, series, 2 * xp.arctan2(s, w) / s)
    return v * factor[..., None]


def _axis_rotation(angle: ArrayLike, axis: int) -> Array:
    """Active right-handed rotation about coordinate axis 0/1/2: angle (...,) -> (..., 3, 3)."""
    xp, (angle,) = _arrays(angle)
    c, s = xp.cos(angle), xp.sin(angle)
    o, one = xp.zeros_like(angle), xp.ones_like(angle)
    if axis == 0:
        return _matrix([[one, o, o], [o, c, -s], [o, s, c]])
    if axis == 1:
        return _matrix([[c, o, s], [o, one, o], [-s, o, c]])
    return _matrix([[c, -s, o], [s, c, o], [o, o, one]])


def rot_x(angle: ArrayLike) -> Array:
    """Rotation about x: angle (...,) radians -> (..., 3, 3)."""
    return _axis_rotation(angle, 0)


def rot_y(angle: ArrayLike) -> Array:
    """Rotation about y: angle (...,) radians -> (..., 3, 3)."""
    return _axis_rotation(angle, 1)


def rot_z(angle: ArrayLike) -> Array:
    """Rotation about z: angle (...,) radians -> (..., 3, 3)."""
    return _axis_rotation(angle, 2)


def rotation_about_axis(axis: ArrayLike, angle: ArrayLike) -> Array:
    """Rotation by angle about a (normalised) axis: axis (..., 3), angle (...,) -> (..., 3, 3)."""
    _, (axis, angle) = _arrays(axis, angle)
    _check(axis, "axis", 3)
    return axis_angle_to_matrix(_normalize(axis) * angle[..., None])


def azimuth_rotation(azimuth: ArrayLike, up: ArrayLike = _UP) -> Array:
    """Rotation by azimuth about the vertical ``up``: azimuth (...,), up (..., 3) -> (..., 3, 3)."""
    _, (azimuth, up) = _arrays(azimuth, up)
    _check(up, "up", 3)
    return rotation_about_axis(up, azimuth)


def rot6d_to_matrix(d6: Array) -> Array:
    """Gram-Schmidt of the first two columns (Zhou et al. 2019): d6 (..., 6) -> R (..., 3, 3)."""
    xp, (d6,) = _arrays(d6)
    _check(d6, "d6", 6)
    b1 = _normalize(d6[..., :3])
    a2 = d6[..., 3:]
    b2 = _normalize(a2 - _dot(b1, a2)[..., None] * b1)
    return xp.stack([b1, b2, _cross(b1, b2)], -1)


def matrix_to_rot6d(R: Array) -> Array:
    """First two columns of R concatenated: R (..., 3, 3) -> d6 (..., 6)."""
    xp, (R,) = _arrays(R)
    _check(R, "R", 3, 3)
    return xp.concatenate([R[..., :, 0], R[..., :, 1]], -1)


# --------------------------------------------------------------------------------------------
# alignment
# --------------------------------------------------------------------------------------------


def procrustes(
    pred: Array,
    gt: Array,
    scale: bool = True,
    allow_reflection: bool = False,
    weights: Array | None = None,
) -> tuple[Array, Array, Array, Array]:
    """Umeyama similarity alignment of pred onto gt: (..., J, 3) x2 -> (aligned, R, s, t).

    Minimises ``sum_j w_j |s R pred_j + t - gt_j|^2``; returns aligned (..., J, 3),
    R (..., 3, 3), s (...,), t (..., 3) with ``aligned = s * pred @ R^T + t``. ``weights
    (..., J)`` (default all ones) let a joint count less or not at all: a joint whose truth is
    unknown gets weight 0, and its values (even NaN in ``gt``) do not enter the fit.
    """
    xp, (pred, gt) = _arrays(pred, gt)
    _check(pred, "pred", "J", 3)
    _check(gt, "gt", "J", 3)
    w = xp.ones_like(gt[..., 0]) if weights is None else _arrays(weights, gt)[1][0]
    w = w / w.sum(-1)[..., None]  # a pose without any weighted joint comes out NaN
    gt = xp.where(w[..., None] > 0, gt, xp.zeros_like(gt))
    mu_p, mu_g = _dot(_T(pred), w[..., None, :]), _dot(_T(gt), w[..., None, :])
    P, G = pred - mu_p[..., None, :], gt - mu_g[..., None, :]
    U, S, Vh = xp.linalg.svd(_T(G * w[..., None]) @ P)
    ones = xp.ones_like(S[..., 0])
    d = ones
    if not allow_reflection:
        # Flip the weakest singular direction when U Vh would be a reflection.
        det = xp.linalg.det(U) * xp.linalg.det(Vh)
        d = xp.where(det < 0, -ones, ones)
    D = xp.stack([ones, ones, d], -1)
    R = (U * D[..., None, :]) @ Vh
    s = (S * D).sum(-1) / (P * P * w[..., None]).sum((-2, -1)) if scale else ones
    t = mu_g - s[..., None] * _matvec(R, mu_p)
    aligned = s[..., None, None] * (pred @ _T(R)) + t[..., None, :]
    return aligned, R, s, t


# --------------------------------------------------------------------------------------------
# OpenCV lens distortion (calibration files: Pose2Sim, OpenCV, Qualisys)
# --------------------------------------------------------------------------------------------


def _opencv_delta(x: Array, dist: Array) -> tuple[Array, Array]:
    """Radial factor (..., J, 1) and tangential shift (..., J, 2) of OpenCV's model at x."""
    xp = _xp(x)
    k1, k2 = dist[..., None, 0:1], dist[..., None, 1:2]
    p1, p2, k3 = dist[..., None, 2:3], dist[..., None, 3:4], dist[..., None, 4:5]
    px, py = x[..., 0:1], x[..., 1:2]
    r2 = px * px + py * py
    radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
    tangential = xp.concatenate(
        [2 * p1 * px * py + p2 * (r2 + 2 * px * px), p1 * (r2 + 2 * py * py) + 2 * p2 * px * py],
        -1,
    )
    return radial, tangential


def distort_opencv(x: Array, dist: Array) -> Array:
    """OpenCV lens distortion: x (..., J, 2) normalized, dist (..., 5) -> (..., J, 2).

    ``dist = (k1, k2, p1, p2, k3)`` in OpenCV's order and model (``cv2.projectPoints``), the one
    calibration files use; :func:`distort` is the different Human3.6M model.
    """
    _, (x, dist) = _arrays(x, dist)
    _check(x, "x", "J", 2)
    _check(dist, "dist", 5)
    radial, tangential = _opencv_delta(x, dist)
    return x * radial + tangential


def undistort_opencv(x_d: Array, dist: Array, iterations: int = UNDISTORT_ITERATIONS) -> Array:
    """Inverse of :func:`distort_opencv` by fixed point (as ``cv2.undistortPoints``)."""
    _, (x_d, dist) = _arrays(x_d, dist)
    _check(x_d, "x_d", "J", 2)
    _check(dist, "dist", 5)
    x = x_d
    # x_d = x * radial(x) + tangential(x): freeze the x-dependent terms and solve for x.
    for _ in range(iterations):
        radial, tangential = _opencv_delta(x, dist)
        x = (x_d - tangential) / radial
    return x


def project_distorted_opencv(X: Array, K: Array, dist: Array) -> Array:
    """Projection with OpenCV distortion: X (..., J, 3) camera, K, dist (..., 5) -> (..., J, 2)."""
    _, (X, K, dist) = _arrays(X, K, dist)
    _check(X, "X", "J", 3)
    _check(K, "K", 3, 3)
    return _affine(distort_opencv(project_normalized(X), dist), K)


def undistort_pixels_opencv(
    u: Array, K: Array, dist: Array, iterations: int = UNDISTORT_ITERATIONS
) -> Array:
    """Pinhole pixels of observations distorted by OpenCV's model: u (..., J, 2) -> (..., J, 2)."""
    _, (u, K, dist) = _arrays(u, K, dist)
    _check(u, "u", "J", 2)
    x_d = _affine(u, invert_K(K))
    return _affine(undistort_opencv(x_d, dist, iterations), K)


# --------------------------------------------------------------------------------------------
# multi-view triangulation
# --------------------------------------------------------------------------------------------

#: A rig of C cameras: projection matrices P (C, 3, 4), or a tuple (K (C, 3, 3), R, t).
Cameras: TypeAlias = Any


def projection_matrix(K: Array, R: Array, t: Array) -> Array:
    """P = K [R | t]: K (..., 3, 3), R (..., 3, 3), t (..., 3) -> (..., 3, 4)."""
    xp, (K, R, t) = _arrays(K, R, t)
    _check(K, "K", 3, 3)
    _check(R, "R", 3, 3)
    _check(t, "t", 3)
    return K @ xp.concatenate([R, t[..., :, None]], -1)


def _rig(points_2d: Array, cameras: Cameras) -> tuple[Array, Array]:
    """Observations and P matrices in which the DLT is well conditioned: (C, N, 2), (C, 3, 4).

    With (K, R, t) the pixels go to normalized coordinates and P to [R | t], so every row of
    the DLT is O(1) whatever the focal length. A bare P is scaled so that its third row gives
    the depth; its algebraic error is then depth x pixel error for every camera alike.
    """
    xp = _xp(points_2d)
    if isinstance(cameras, tuple | list):
        K, R, t = cameras
        _, (points_2d, K, R, t) = _arrays(points_2d, K, R, t)
        x = _affine(points_2d.reshape(points_2d.shape[0], -1, 2), invert_K(K))
        return x, xp.concatenate([R, t[..., :, None]], -1)
    _, (points_2d, P) = _arrays(points_2d, cameras)
    _check(P, "P", 3, 4)
    depth_norm = xp.sqrt(_dot(P[..., 2, :3], P[..., 2, :3]))
    return points_2d.reshape(points_2d.shape[0], -1, 2), P / depth_norm[..., None, None]


def triangulate(points_2d: Array, cameras: Cameras, weights: Array | None = None) -> Array:
    """Weighted linear (DLT) triangulation: (C, ..., 2) undistorted pixels -> (..., 3) world.

    ``cameras`` is P (C, 3, 4) or (K (C, 3, 3), R (C, 3, 3), t (C, 3)). ``weights`` (C, ...)
    scale each camera's two equations (e.g. detection confidence); 0 or a non-finite pixel
    means "not seen". Each point is the right singular vector of its stacked 2C x 4 system;
    points seen by fewer than 2 cameras are NaN. Vectorised over points (batched SVD).
    """
    xp = _xp(points_2d)
    C, lead = points_2d.shape[0], tuple(points_2d.shape[1:-1])
    x, P = _rig(points_2d, cameras)
    w = xp.ones_like(x[..., 0]) if weights is None else _const(weights, x).reshape(C, -1)
    seen = xp.isfinite(x).all(-1) & (w > 0)
    w = xp.where(seen, w, xp.zeros_like(w))
    x = xp.where(seen[..., None], x, xp.zeros_like(x))  # a NaN would poison the whole SVD
    # Rows u P3 - P1 and v P3 - P2 per camera: (C, N, 2, 4) -> (N, 2C, 4).
    rows = x[..., :, None] * P[:, None, 2:3, :] - P[:, None, :2, :]
    A = (w[..., None, None] * rows).swapaxes(0, 1).reshape(-1, 2 * C, 4)
    _, _, Vh = xp.linalg.svd(A)
    h = Vh[..., -1, :]
    X = h[..., :3] / h[..., 3:]
    X = xp.where((seen.sum(0) >= 2)[:, None], X, xp.full_like(X, float("nan")))
    return X.reshape((*lead, 3))


def triangulate_leave_one_out(
    points_2d: Array, cameras: Cameras, weights: Array | None = None
) -> Array:
    """For each camera c, the triangulation from all the other cameras: -> (C, ..., 3).

    Camera c's observations get weight 0 (and are replaced by 0), so its 2D never enters the
    point it is evaluated against: the per-camera "truth" of a multi-view development set.
    """
    xp = _xp(points_2d)
    C = points_2d.shape[0]
    w = xp.ones_like(points_2d[..., 0]) if weights is None else _const(weights, points_2d)
    out = []
    for c in range(C):
        keep = _const([i != c for i in range(C)], w).reshape((C,) + (1,) * (w.ndim - 1))
        hidden = xp.where(keep[..., None] > 0, points_2d, xp.zeros_like(points_2d))
        out.append(triangulate(hidden, cameras, w * keep))
    return xp.stack(out, 0)


def reprojection_error(X: Array, points_2d: Array, cameras: Cameras) -> Array:
    """Pixel distance between observations and reprojected points: -> (C, ...).

    X (..., 3) world, points_2d (C, ..., 2) undistorted pixels, cameras P (C, 3, 4) or
    (K, R, t). NaN where the observation or the point is missing.
    """
    xp = _xp(points_2d)
    P = projection_matrix(*cameras) if isinstance(cameras, tuple | list) else cameras
    _, (X, points_2d, P) = _arrays(X, points_2d, P)
    _check(P, "P", 3, 4)
    C = points_2d.shape[0]
    Xf = X.reshape(1, -1, 3)
    h = Xf @ _T(P[:, :, :3]) + P[:, None, :, 3]
    u = h[..., :2] / h[..., 2:]
    err = xp.sqrt(((u - points_2d.reshape(C, -1, 2)) ** 2).sum(-1))
    return err.reshape(points_2d.shape[:-1])


def pool_camera(
    K: np.ndarray, gravity: np.ndarray, videos: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One camera per video: the median focal (log scale) and principal point, mean gravity.

    A static camera has one K and one gravity direction for all its frames, so per-frame
    estimates are pooled; this removes frame-to-frame noise, not a shared bias.
    """
    gravity = gravity.copy()
    for video in np.unique(videos):
        rows = videos == video
        mean = gravity[rows].mean(0)
        gravity[rows] = mean / max(np.linalg.norm(mean), 1e-9)
    return pool_intrinsics(K, videos), gravity


def pool_intrinsics(K: np.ndarray, videos: np.ndarray) -> np.ndarray:
    """One K per video: the median focal length (log scale) and principal point."""
    K = K.copy()
    for video in np.unique(videos):
        rows = videos == video
        focal = np.exp(np.median(np.log(0.5 * (K[rows, 0, 0] + K[rows, 1, 1]))))
        K[rows, 0, 0] = K[rows, 1, 1] = focal
        K[rows, :2, 2] = np.median(K[rows, :2, 2], axis=0)
    return K
