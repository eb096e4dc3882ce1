"""How much hiding joints costs a LiftNet: PA-MPJPE with all joints seen, with the face-derived
joints (Neck, Head) hidden, with one random limb end (a wrist or a foot) hidden per pose, and
with ``k`` random body joints hidden (the skip rule's measurement, docs/MISSING_JOINTS.md).

Trains nothing: it lifts the synthetic test split's true 2D + K + gravity with a trained LiftNet
(the flip test on, as the evaluation lifts) and scores all 17 joints against the 3D truth, the
hidden ones included. A LiftNet trained without the presence mask refuses partial poses; its
masked rows say so.

Usage: python experiments/masked_joints.py [--model data/06_models/liftnet_reference.pt]
    [--split data/05_model_input/test.npz] [--seed 0] [--samples N] [--out result.json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from epoch_kedro.evaluation.metrics import joint_errors
from epoch_kedro.inference.lifting import lift_tensors, predict_poses
from epoch_kedro.liftnet_inputs import lift_inputs
from epoch_kedro.models.artifacts import liftnet_from_artifact
from epoch_kedro.skeleton import JOINT_INDEX, NUM_JOINTS
from epoch_kedro.utils.checkpoint import load_checkpoint

FACE = ("Neck", "Head")
LIMB_ENDS = ("LWrist", "RWrist", "LFoot", "RFoot")
#: Body joints that may be hidden in the k-joints rows: all but the face, the pelvis and hips
#: (the pelvis is needed to lift at all; it is made of the hips).
HIDEABLE = ("RKnee", "RFoot", "LKnee", "LFoot", "Spine", "Thorax",
            "LShoulder", "LElbow", "LWrist", "RShoulder", "RElbow", "RWrist")  # fmt: skip


def _idx(names: tuple[str, ...]) -> list[int]:
    return [JOINT_INDEX[n] for n in names]


def masks(n: int, seed: int, most: int) -> dict[str, np.ndarray]:
    """The ``(n, 17)`` presence masks of each condition (seeded)."""
    rng = np.random.default_rng(seed)
    out = {"all": np.ones((n, NUM_JOINTS), bool)}
    face = np.ones((n, NUM_JOINTS), bool)
    face[:, _idx(FACE)] = False
    out["face"] = face
    limb = np.ones((n, NUM_JOINTS), bool)
    limb[np.arange(n), rng.choice(_idx(LIMB_ENDS), n)] = False
    out["limb_end"] = limb
    hideable = np.array(_idx(HIDEABLE))
    for k in range(1, most + 1):
        mask = np.ones((n, NUM_JOINTS), bool)
        picks = np.argsort(rng.random((n, len(hideable))), axis=1)[:, :k]
        mask[np.arange(n)[:, None], hideable[picks]] = False
        out[f"body_{k}_hidden"] = mask
    return out


def score(model, split: dict[str, np.ndarray], present: np.ndarray) -> dict[str, float]:
    """PA-MPJPE (mm, all 17 joints) of lifting ``split`` with ``present``; hidden joints NaN."""
    kp = np.where(present[..., None], split["kp2d"], np.nan)
    inputs = lift_tensors(lift_inputs(kp, split["K"], split.get("gravity"), present))
    pred = predict_poses(model, inputs)
    errors = joint_errors(pred, split["pose3d_cam"].astype(np.float64), "procrustes")
    result = {"pa_mpjpe": float(errors.mean())}
    if not present.all():
        result["pa_mpjpe_hidden_joints"] = float(errors[~present].mean())
    return result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("data/06_models/liftnet_reference.pt"))
    parser.add_argument("--split", type=Path, default=Path("data/05_model_input/test.npz"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--samples", type=int, default=0, help="0: the whole split")
    parser.add_argument("--most", type=int, default=8, help="most body joints hidden (rows)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    model = liftnet_from_artifact(load_checkpoint(args.model))
    with np.load(args.split) as arrays:
        split = {k: arrays[k] for k in ("kp2d", "K", "gravity", "pose3d_cam") if k in arrays}
    if args.samples:
        rows = np.random.default_rng(args.seed).permutation(len(split["kp2d"]))[: args.samples]
        split = {k: v[rows] for k, v in split.items()}
    start = time.perf_counter()
    results: dict[str, dict] = {}
    for name, present in masks(len(split["kp2d"]), args.seed, args.most).items():
        try:
            results[name] = score(model, split, present)
        except ValueError as err:  # a LiftNet without the presence mask
            results[name] = {"refused": str(err)}
            continue
        if name != "all":
            results[name]["added_mm"] = results[name]["pa_mpjpe"] - results["all"]["pa_mpjpe"]
    summary = {
        "model": str(args.model),
        "presence_mask": model.config.presence_mask,
        "split": str(args.split),
        "samples": len(split["kp2d"]),
        "seed": args.seed,
        "seconds": round(time.perf_counter() - start, 1),
        "results": results,
    }
    text = json.dumps(summary, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return summary


if __name__ == "__main__":
    main()
