"""How well do the trained LiftNets' elevation heads read the camera's elevation from a 2D pose?

LiftNet has an elevation head (ElePose's), trained through the rotation cycle on the samples
whose gravity is hidden (``liftnet.cycle.gravity_dropout``); it stands in when a camera's
gravity is unknown. This script lifts the test frames with gravity hidden and compares the
heads' elevations with the true cameras', per camera type (rig / wild), on the true 2D + K and
on RegNet's 2D + K̂ of the rendered test frames (``regnet_inputs_test``), beside the
training-mean elevation: what a 2D pose tells of the elevation, against RegNet's camera
(``metrics.json`` ``regnet.by_camera_type``). Used in docs/METHOD.md.

Usage: python experiments/liftnet_elevation.py [--data data]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from epoch_kedro.evaluation.evaluate import camera_types
from epoch_kedro.inference.lifting import head_elevation, lift_tensors
from epoch_kedro.models.artifacts import liftnet_from_artifact
from epoch_kedro.utils.checkpoint import load_checkpoint

MODELS = ("elevation_teacher", "liftnet", "liftnet_reference", "liftnet_weak")


def _load(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=True) as arrays:
        return {k: arrays[k] for k in arrays.files}


def rows_of(ids: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Rows of ``ids`` (a split's sorted ``sample_id``) holding ``wanted``; one line if absent."""
    rows = np.searchsorted(ids, wanted).clip(0, len(ids) - 1)
    if not (np.all(np.diff(ids) > 0) and np.array_equal(ids[rows], wanted)):
        raise SystemExit("the generated inputs' sample_id are not rows of the model-input split")
    return rows


def _head_deg(model, split: dict[str, np.ndarray]) -> np.ndarray:
    """The elevation head's estimate (deg) for every row, gravity hidden."""
    return np.rad2deg(head_elevation(model, lift_tensors(split)))


def _row(name: str, estimate: np.ndarray, truth: np.ndarray, kinds: np.ndarray) -> str:
    error = np.abs(estimate - truth)
    parts = [f"{np.median(error[kinds == k]):5.2f}" for k in ("rig", "wild")]
    # A constant estimate (the training mean) has no correlation to speak of.
    corr = np.corrcoef(estimate, truth)[0, 1] if np.ptp(estimate) > 1e-6 else float("nan")
    return f"{name:44s} {np.median(error):5.2f} {parts[0]} {parts[1]}  r={corr:5.2f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("data"))
    root = parser.parse_args(argv).data
    test = _load(root / "05_model_input/test.npz")
    generated = _load(root / "07_model_output/regnet_inputs_test.npz")
    train = _load(root / "05_model_input/train.npz")
    rows = rows_of(test["sample_id"], generated["sample_id"])
    truth, kinds = np.rad2deg(test["elevation"][rows]), camera_types(test)[rows]
    rendered = {k: v[rows] for k, v in test.items()}
    print(f"median |error| deg on the {len(rows)} rendered test frames: all, rig, wild")
    mean = np.full(len(rows), np.rad2deg(train["elevation"]).mean())
    print(_row("training-mean elevation", mean, truth, kinds))
    regnet = np.rad2deg(np.arcsin(np.clip(generated["gravity"][:, 2], -1, 1)))
    print(_row("RegNet's camera (pooled per video)", regnet, truth, kinds))
    for name in MODELS:
        model = liftnet_from_artifact(load_checkpoint(root / f"06_models/{name}.pt")).eval()
        for label, split in (("true 2D + K", rendered), ("RegNet's 2D + K^", generated)):
            print(_row(f"{name}, {label}", _head_deg(model, split), truth, kinds))


if __name__ == "__main__":
    main()
