"""Camera/pose normalization: world->camera, undistortion, rays, root-centring, scale, statistics.

Model-input arrays (one dict per split, one row per sample) add to the ingested fields:

- ``kp2d`` (N, 17, 2) px: *undistorted* 2D (pinhole with the same K); ``kp2d_observed`` keeps
  the raw observation.
- ``rays`` (N, 17, 3): ``K^-1 [u, 1]`` (z = 1), the exact perspective input of LiftNet.
- ``pose2d`` (N, 17, 2): ray xy, root-centred and divided by ``scale2d`` (N,), the RMS distance
  of the joints from the root in normalized image coordinates.
- ``pose3d_cam`` (N, 17, 3) m: camera-frame 3D, for evaluation and monitoring only.
- ``gravity`` (N, 3): world "down" in camera coordinates; ``elevation`` (N,) rad.
- ``present`` (N, 17) bool, only where some ``kp2d`` are NaN (joints not seen, ``visible``
  False): LiftNet's presence mask (docs/MISSING_JOINTS.md). Without it every joint is present.
"""

from __future__ import annotations

import numpy as np

from epoch_kedro.data.schema import FLOAT_DTYPE, take
from epoch_kedro.geometry import (
    UNDISTORT_ITERATIONS,
    camera_elevation,
    gravity_direction,
    undistort_pixels,
    world_to_camera,
)
from epoch_kedro.liftnet_inputs import lift_inputs
from epoch_kedro.skeleton import BONE_NAMES, ROOT, bone_lengths

#: Fields carried over unchanged from the ingested dataset.
_PASSTHROUGH = (
    "visible",
    "K",
    "R",
    "t",
    "dist",
    "image_size",
    "subject",
    "action",
    "sequence",
    "frame",
    "camera",
    "pose3d_world",
)
#: Fields carried over when the source provides them (see ``schema.OPTIONAL_FIELDS``).
_OPTIONAL = (
    "sample_id",
    "pose3d_metric_cam",
    "gravity_known",
    "heldout_motion",
    "truth_known",
    "camera_name",
)


def dataset_actions(parts: dict[str, dict[str, np.ndarray]]) -> list[str]:
    """The sorted action names found in any of the splits."""
    return sorted(set().union(*(np.unique(p["action"]).tolist() for p in parts.values())))


def hold_out_motions(
    parts: dict[str, dict[str, np.ndarray]], actions: list[str] | tuple[str, ...]
) -> dict[str, dict[str, np.ndarray]]:
    """The held-out-motion protocol: a boolean ``heldout_motion`` field in every split, true for
    the samples of ``actions``.

    The 2D pose prior, the training statistics and LiftNet drop those samples
    (:func:`seen_motions`), so motion of those kinds is new to them at test time; RegNet, a 2D
    detector in this role, reads every image (detectors are trained on broad image sets).
    Unknown action names raise ``ValueError`` naming them and the dataset's actions.
    """
    held = [str(a) for a in actions]
    known = dataset_actions(parts)
    unknown = [a for a in held if a not in known]
    if unknown:
        raise ValueError(
            f"held-out actions {unknown} are not actions of this dataset; its actions: {known}"
        )
    return {
        name: {**part, "heldout_motion": np.isin(part["action"], held)}
        for name, part in parts.items()
    }


def seen_motions(split: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The split without its held-out-motion samples (:func:`hold_out_motions`); a split
    without the flag is returned as it is."""
    flag = split.get("heldout_motion")
    if flag is None or not np.any(flag):
        return split
    return take(split, ~np.asarray(flag, bool))


def split_by_subject(
    data: dict[str, np.ndarray], splits: dict[str, list[str]]
) -> dict[str, dict[str, np.ndarray]]:
    """Rows of each split's subjects: ``{split: dataset}`` (splits assumed validated)."""
    return {
        name: take(data, np.isin(data["subject"], subjects)) for name, subjects in splits.items()
    }


def _gravity(data: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Gravity in camera coordinates and elevation from R; zero / NaN where R is not measured.

    LiftNet reads a zero gravity vector as "unknown" (how it trains with gravity dropout).
    """
    gravity = gravity_direction(data["R"])
    elevation = camera_elevation(data["R"])
    known = np.asarray(data.get("gravity_known", np.ones(len(gravity), bool)), bool)
    return {
        "gravity": np.where(known[:, None], gravity, 0.0),
        "elevation": np.where(known, elevation, np.nan),
    }


def _present(kp2d: np.ndarray, visible: np.ndarray) -> np.ndarray | None:
    """The presence mask where some joints have no 2D (NaN), else None (all present). A NaN
    at a joint marked visible is a broken source, refused rather than lifted as missing."""
    present = np.isfinite(kp2d).all(-1)
    if present.all():
        return None
    if (~present & np.asarray(visible, bool)).any():
        i, j = np.argwhere(~present & np.asarray(visible, bool))[0]
        raise ValueError(f"kp2d[{i}, {j}] is NaN but visible[{i}, {j}] is True: expected 2D "
                         "for every visible joint")  # fmt: skip
    return present


def to_model_input(
    data: dict[str, np.ndarray], undistort_iterations: int = UNDISTORT_ITERATIONS
) -> dict:
    """Model-input arrays of one split (see the module docstring for each field)."""
    # Geometry in float64: float32 rays lose precision for joints far off the optical axis.
    K = data["K"].astype(np.float64)
    kp2d = data["kp2d"].astype(np.float64)
    # Only cameras with a lens model need the (iterative) inversion; pinhole rows pass through.
    lens = np.any(data["dist"] != 0, axis=-1)
    if lens.any():
        kp2d[lens] = undistort_pixels(
            kp2d[lens],
            K[lens],
            data["dist"][lens].astype(np.float64),
            iterations=undistort_iterations,
        )
    out = {key: data[key] for key in _PASSTHROUGH}
    out.update({key: data[key] for key in _OPTIONAL if key in data})
    out.update(
        kp2d=kp2d,
        kp2d_observed=data["kp2d"],
        **lift_inputs(kp2d, K, present=_present(kp2d, data["visible"])),
        pose3d_cam=world_to_camera(
            data["pose3d_world"].astype(np.float64),
            data["R"].astype(np.float64),
            data["t"].astype(np.float64),
        ),
        **_gravity(data),
    )
    return {k: v.astype(FLOAT_DTYPE) if v.dtype.kind == "f" else v for k, v in out.items()}


def pose2d_statistics(pose2d: np.ndarray) -> dict[str, np.ndarray]:
    """Mean and PCA basis of flattened normalised 2D poses ``(N, 17, 2)``.

    ``pca_components`` rows are unit principal directions sorted by decreasing
    ``pca_variance``: the flow prior keeps the leading ones.
    """
    flat = pose2d.reshape(len(pose2d), -1).astype(np.float64)
    mean = flat.mean(0)
    cov = np.cov(flat - mean, rowvar=False)
    variance, vectors = np.linalg.eigh(cov)
    order = np.argsort(variance)[::-1]
    return {
        "pose2d_mean": mean,
        "pca_components": vectors[:, order].T,
        "pca_variance": np.maximum(variance[order], 0.0),
    }


def dataset_statistics(train: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Training-population statistics: bone lengths (the anthropometric prior) and 2D PCA.

    Bone lengths summarise the *population* (the size prior of the method spec); no per-sample
    3D label leaves this function.
    """
    bones = bone_lengths(train["pose3d_cam"].astype(np.float64))
    stats = {
        "bone_length_mean": bones.mean(0),
        "bone_length_std": bones.std(0),
        "scale2d_mean": np.asarray(train["scale2d"].mean(), dtype=np.float64),
    }
    stats.update(pose2d_statistics(train["pose2d"]))
    return stats


def summarize(splits: dict[str, dict[str, np.ndarray]], stats: dict[str, np.ndarray]) -> dict:
    """A human-readable JSON summary: sizes, subjects, actions, camera spread, bone lengths."""
    summary: dict = {"splits": {}}
    for name, data in splits.items():
        distance = np.linalg.norm(data["pose3d_cam"][:, ROOT], axis=-1)
        focal = data["K"][:, 0, 0] / data["image_size"][:, 0]
        summary["splits"][name] = {
            "samples": len(data["kp2d"]),
            "subjects": sorted(set(data["subject"].tolist())),
            "actions": sorted(set(data["action"].tolist())),
            "visible_fraction": round(float(data["visible"].mean()), 4),
            "camera_distance_m": _quantiles(distance),
            "focal_over_width": _quantiles(focal),
            "elevation_deg": _quantiles(np.rad2deg(data["elevation"])),
        }
    summary["bone_length_mean_m"] = {
        name: round(float(v), 4)
        for name, v in zip(BONE_NAMES, stats["bone_length_mean"], strict=True)
    }
    return summary


def _quantiles(x: np.ndarray) -> dict[str, float]:
    # NaN marks an unknown value (e.g. the elevation of a camera without extrinsics).
    x = x[np.isfinite(x)]
    q = np.quantile(x, [0.0, 0.5, 1.0]) if len(x) else [float("nan")] * 3
    return {
        "min": round(float(q[0]), 3),
        "median": round(float(q[1]), 3),
        "max": round(float(q[2]), 3),
    }
