"""How well can 2D keypoints alone pin the focal length? An oracle study.

RegNet learns its focal length only through the 2D loss: under full perspective, ``f`` and the
root depth trade off exactly for a flat (weak-perspective) person, and only the depth
differences *within* the body separate them. This module measures how much that signal is
worth when the 3D shape is known up to a given error: for each frame it fits rotation and
translation at every focal length of a grid (the *profile* of the reprojection cost), and
reports the focal length that fits best, per frame and per video (one static camera, the
frames' profiles summed).

Run: ``python experiments/identifiability.py data/05_model_input/test.npz`` (a study, not part
of any pipeline; docs/RESULTS.md).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares
from scipy.spatial.transform import Rotation

from epoch_kedro.chain import video_ids
from epoch_kedro.geometry import project


@dataclass(frozen=True)
class FocalProfile:
    """Reprojection cost ``(F,)`` of one frame at each focal ratio of ``grid (F,)`` (f / f_true)."""

    grid: np.ndarray
    cost: np.ndarray


def _residuals(params: np.ndarray, pose: np.ndarray, kp2d: np.ndarray, K: np.ndarray):
    R = Rotation.from_rotvec(params[:3]).as_matrix()
    camera = pose @ R.T + params[3:]
    return (project(camera, K) - kp2d).ravel()


def focal_profile(
    pose: np.ndarray, kp2d: np.ndarray, K: np.ndarray, root: np.ndarray, grid: np.ndarray
) -> FocalProfile:
    """Best reprojection cost of a root-relative ``pose (J,3)`` at each focal ratio of ``grid``.

    ``K`` is the true intrinsics; the focal length tried is ``grid * K[0, 0]`` (principal
    point kept). ``root (3,)`` is the true root position, scaled with ``f`` for the start: the
    solution a weak-perspective camera would find, so each fit starts in the right basin.
    """
    cost = np.empty(len(grid))
    for i, ratio in enumerate(grid):
        K_try = K.copy()
        K_try[0, 0] *= ratio
        K_try[1, 1] *= ratio
        start = np.concatenate([np.zeros(3), root * np.array([1.0, 1.0, ratio])])
        fit = least_squares(_residuals, start, args=(pose, kp2d, K_try), method="lm")
        cost[i] = 2 * fit.cost
    return FocalProfile(grid=grid, cost=cost)


def best_ratio(profile: FocalProfile) -> float:
    """The grid focal ratio of least cost, refined by a parabola through its neighbours."""
    log_grid = np.log(profile.grid)
    i = int(np.clip(np.argmin(profile.cost), 1, len(log_grid) - 2))
    c0, c1, c2 = profile.cost[i - 1 : i + 2]
    curvature = c0 - 2 * c1 + c2
    step = log_grid[i + 1] - log_grid[i]
    shift = 0.5 * (c0 - c2) / curvature * step if curvature > 0 else 0.0
    return float(np.exp(log_grid[i] + np.clip(shift, -step, step)))


def focal_study(
    split: dict[str, np.ndarray],
    noise_m: float,
    videos: int = 24,
    frames: int = 10,
    seed: int = 0,
    grid: np.ndarray | None = None,
) -> dict[str, float]:
    """Median relative focal error per frame and per video at 3D noise ``noise_m`` (metres)."""
    grid = np.exp(np.linspace(np.log(0.4), np.log(2.5), 41)) if grid is None else grid
    rng = np.random.default_rng(seed)
    video = video_ids(split)
    chosen = rng.choice(video.max() + 1, size=min(videos, video.max() + 1), replace=False)
    per_frame, per_video = [], []
    for v in chosen:
        rows = np.flatnonzero(video == v)
        rows = rng.choice(rows, size=min(frames, len(rows)), replace=False)
        profiles = []
        for r in rows:
            cam = split["pose3d_cam"][r]
            pose = cam - cam[0] + rng.normal(0.0, noise_m, cam.shape)
            profiles.append(focal_profile(pose, split["kp2d"][r], split["K"][r], cam[0], grid))
        per_frame += [abs(best_ratio(p) - 1) for p in profiles]
        pooled = FocalProfile(grid=grid, cost=np.sum([p.cost for p in profiles], axis=0))
        per_video.append(abs(best_ratio(pooled) - 1))
    return {
        "noise_mm": 1000 * noise_m,
        "frames": len(per_frame),
        "videos": len(per_video),
        "focal_rel_err_per_frame": float(np.median(per_frame)),
        "focal_rel_err_per_video": float(np.median(per_video)),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("split", help="a normalized split, e.g. data/05_model_input/test.npz")
    parser.add_argument("--noise-mm", type=float, nargs="+", default=[0.0, 5.0, 10.0, 30.0, 60.0])
    parser.add_argument("--videos", type=int, default=24)
    parser.add_argument("--frames", type=int, default=10)
    args = parser.parse_args(argv)
    with np.load(args.split) as data:
        split = {k: data[k] for k in data.files}
    for noise in args.noise_mm:
        row = focal_study(split, noise / 1000, args.videos, args.frames)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
