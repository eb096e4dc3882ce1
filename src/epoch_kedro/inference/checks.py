"""Checks on what is about to be lifted, for inputs that are almost surely a mistake.

A unit mix-up does not crash LiftNet: keypoints in [0, 1] with a pixel K, a transposed K or a
focal length in millimetres all lift to poses kilometres away. These checks turn such inputs
into one clear line before the lift (:func:`check_lift_inputs`), and flag implausible results
after it (:func:`result_warnings`).
"""

from __future__ import annotations

import numpy as np

#: Horizontal fields of view a K may imply, in degrees (a 1 deg telephoto to a 170 deg fisheye).
FOV_RANGE_DEG = (1.0, 170.0)
#: |keypoints| all within this: normalised coordinates, not pixels.
NORMALISED_EXTENT = 1.5
#: A person further than this from the camera (m) means the units are off.
MAX_ROOT_DEPTH_M = 100.0


def _first(rows: np.ndarray) -> int:
    return int(np.flatnonzero(rows)[0])


def check_K(K: np.ndarray) -> None:
    """Each K ``(N, 3, 3)`` must be ``[[fx, s, cx], [0, fy, cy], [0, 0, 1]]``, fx, fy > 0, a
    principal point inside an image (cx, cy > 0), and imply a plausible field of view."""
    upper = (np.abs(K[:, 1, 0]) + np.abs(K[:, 2, :2]).sum(-1) == 0) & np.isclose(K[:, 2, 2], 1)
    if not upper.all():
        raise ValueError(f"K[{_first(~upper)}] must be [[fx, s, cx], [0, fy, cy], [0, 0, 1]] "
                         "(is it transposed?)")  # fmt: skip
    if np.any(K[:, 0, 0] <= 0) or np.any(K[:, 1, 1] <= 0):
        raise ValueError("K has a non-positive focal length")
    outside = (K[:, 0, 2] <= 0) | (K[:, 1, 2] <= 0)
    if outside.any():
        i = _first(outside)
        raise ValueError(
            f"K[{i}]: principal point ({K[i, 0, 2]:g}, {K[i, 1, 2]:g}) px is not inside an "
            "image (expected cx, cy > 0, about half the image size)"
        )
    cx, fx = K[:, 0, 2], K[:, 0, 0]
    fov = np.degrees(2 * np.arctan2(cx, fx))
    bad = (fov < FOV_RANGE_DEG[0]) | (fov > FOV_RANGE_DEG[1])
    if bad.any():
        i = _first(bad)
        raise ValueError(
            f"K[{i}]: fx={fx[i]:g} px with cx={cx[i]:g} px implies a {fov[i]:.3g} deg field of "
            f"view (expected {FOV_RANGE_DEG[0]:g} to {FOV_RANGE_DEG[1]:g}); is the focal length "
            "in pixels?"
        )


def check_lift_inputs(kp2d: np.ndarray, K: np.ndarray, gravity: np.ndarray | None) -> None:
    """Refuse, with one line, keypoints ``(N, 17, 2)`` px, K ``(N, 3, 3)`` and gravity
    ``(N, 3)`` that are almost surely a mistake."""
    check_K(K)
    # NaN marks a missing joint (``present`` False); the others tell the units.
    if (
        np.isfinite(kp2d).any()
        and np.nanmax(np.abs(kp2d)) <= NORMALISED_EXTENT
        and K[:, 0, 0].min() > 10
    ):
        raise ValueError(
            f"keypoints look normalised (all within +-{NORMALISED_EXTENT:g}) but K's focal "
            f"length is {K[0, 0, 0]:g} px: pass pixels (multiply by the image width and height)"
        )
    if gravity is not None:
        norm = np.linalg.norm(gravity, axis=-1)
        bad = (norm > 0) & (np.abs(norm - 1) > 1e-3)
        if bad.any():
            raise ValueError(
                f"gravity[{_first(bad)}] has norm {norm[bad][0]:.4g}: expected a unit vector "
                "(world down in camera coordinates), or zeros where it is unknown"
            )


def result_warnings(pose3d: np.ndarray) -> list[str]:
    """One line per kind of implausible result: NaN poses, people implausibly far away."""
    lines = []
    nan = ~np.isfinite(pose3d).all(axis=(1, 2))
    if nan.any():
        lines.append(f"LiftNet returned NaN for {int(nan.sum())} of {len(pose3d)} poses "
                     f"(first: {_first(nan)})")  # fmt: skip
    depth = np.where(nan, 0.0, np.nan_to_num(pose3d[:, 0, 2]))
    far = depth > MAX_ROOT_DEPTH_M
    if far.any():
        lines.append(
            f"{int(far.sum())} poses lie more than {MAX_ROOT_DEPTH_M:g} m from the camera "
            f"(first: {_first(far)}, {depth[far][0]:.3g} m): are the keypoints in pixels of "
            "the image K describes?"
        )
    return lines
