"""Calibrate an existing RegNet artifact's out-of-domain threshold, without retraining.

Training stores it (``"domain"`` of ``regnet.pt``: :func:`epoch_kedro.pipelines.regnet.nodes.
calibrate_regnet_artifact`); artifacts trained before that fall back to the constant
``DOMAIN_THRESHOLD``. This runs the same calibration on the run's validation frames and
prints it beside the percentile variant of the rule; ``--write`` stores it in the artifact.

Usage: python experiments/calibrate_domain.py [--models data/06_models] [--data data]
    [--params conf/base/parameters_regnet.yml] [--percentile 99.5] [--write]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import yaml

from epoch_kedro.data.images import ImageSet
from epoch_kedro.inference.regnet import (
    DOMAIN_THRESHOLD,
    READ_TOLERANCE,
    domain_score,
    flip_test,
    read_errors,
)
from epoch_kedro.models.artifacts import regnet_from_artifact
from epoch_kedro.pipelines.regnet.nodes import calibrate_regnet_artifact
from epoch_kedro.training import regnet as training
from epoch_kedro.training.run import run_settings
from epoch_kedro.utils.checkpoint import load_checkpoint, save_checkpoint


def _inputs(data: Path) -> tuple:
    """The regnet node's inputs that calibration reads (images memory-mapped)."""
    val = dict(np.load(data / "05_model_input/val.npz"))
    folder = data / "02_intermediate"
    return (
        val,
        np.load(folder / "images.npy", mmap_mode="r"),
        dict(np.load(folder / "image_index.npz")),
        np.load(folder / "crops.npy", mmap_mode="r"),
        dict(np.load(folder / "crop_index.npz")),
    )


def variants(artifact: dict, inputs: tuple, params: dict, percentile: float) -> None:
    """The max rule against a percentile of the correctly read frames' scores."""
    val, images, image_index, crops, crop_index = inputs
    config = training.training_config(run_settings(params)[0])
    crops = training.checked_crops(ImageSet(crops, crop_index, ImageSet(images, image_index)),
                                   config)  # fmt: skip
    rows, imgs, boxes, frames = training.validation_set(val, crops, config)
    size = val["image_size"][rows]
    pred = flip_test(regnet_from_artifact(artifact), imgs, boxes, size, frames=frames)
    score = domain_score(pred, boxes)
    error = read_errors(pred["kp2d_heat"], val["kp2d_observed"][rows], val["visible"][rows], boxes)
    keep = np.isfinite(error)  # frames without a visible joint are left out
    score, error = score[keep], error[keep]
    read = error < READ_TOLERANCE
    top = np.round(np.sort(score[read])[-5:], 4)
    print(f"{read.sum()} of {len(read)} labelled frames read correctly; their scores: median "
          f"{np.median(score[read]):.4f}, 5 largest {top}")  # fmt: skip
    rules = {"constant": DOMAIN_THRESHOLD, "max": score[read].max(),
             **{f"p{q:g}": np.percentile(score[read], q) for q in (99, percentile)}}  # fmt: skip
    for name, t in rules.items():
        print(f"  {name:8s} {t:.4f}: flags {np.mean(score > t):.1%} of the frames, "
              f"{np.mean(score[~read] > t):.1%} of the misread (median error "
              f"{np.median(error[~read]):.3f} box side)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=Path("data/06_models"))
    parser.add_argument("--data", type=Path, default=Path("data"))
    parser.add_argument("--params", type=Path, default=Path("conf/base/parameters_regnet.yml"))
    parser.add_argument("--percentile", type=float, default=99.5)
    parser.add_argument("--write", action="store_true", help="store it in the artifact")
    args = parser.parse_args()
    path = args.models / "regnet.pt"
    artifact = load_checkpoint(path)
    params = yaml.safe_load(args.params.read_text())["regnet"]
    inputs = _inputs(args.data)
    start = time.perf_counter()
    calibrated = calibrate_regnet_artifact(artifact, *inputs, params)
    print(f"{path}: {calibrated['domain']} in {time.perf_counter() - start:.1f} s "
          f"(stored before: {artifact.get('domain')})")  # fmt: skip
    variants(artifact, inputs, params, args.percentile)
    if args.write:
        save_checkpoint(calibrated, path)
        print(f"written to {path}")


if __name__ == "__main__":
    main()
