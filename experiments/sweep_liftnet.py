"""A sweep of reference-LiftNet training variants, scored on the held-out-motion protocol.

The plan's ``base`` (``synthetic``, ``flow``, ``liftnet``) overrides conf/base for every entry,
so that a plan keeps measuring what it measured when the defaults move. Each entry of ``data``
generates the default synthetic dataset with its overrides
(``synthetic``: e.g. more clips per motion kind; ``flow``: the pose prior's settings), builds
the model inputs and trains the flow prior, through the ingestion and normalization nodes.
Each entry of ``variants`` then trains the reference LiftNet (ground-truth 2D + K, held-out
motions left out) with its ``liftnet`` parameter overrides, in a pool of worker processes
(CUDA when available, else the CPU), and scores it on the test split of the first data entry:
PA-MPJPE on the seen and the held-out motions, with and without the flip test. One JSON line
per variant goes to ``--out`` as it finishes, so an interrupted sweep keeps what it finished.

``extra`` options of a variant: ``mirror: true`` adds a mirrored copy of every training pose;
``subsample: f`` keeps a random share ``f`` of the training clips.

Usage: python experiments/sweep_liftnet.py [--plan experiments/sweep_liftnet.yml]
    [--workers 8] [--out sweep.jsonl] [--only base,ep20] [--quick]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import time
import traceback
from pathlib import Path

import numpy as np
import torch
import yaml

from epoch_kedro.data.normalize import seen_motions
from epoch_kedro.evaluation.metrics import joint_errors
from epoch_kedro.inference.lifting import (
    lift_tensors,
    mirror_inputs,
    mirror_poses,
    predict_poses,
)
from epoch_kedro.models.artifacts import flow_from_artifact
from epoch_kedro.pipelines.ingestion.nodes import ingest_dataset
from epoch_kedro.pipelines.normalization import nodes as normalization
from epoch_kedro.training import liftnet as lift_training
from epoch_kedro.training.run import run_settings
from epoch_kedro.utils.config import deep_merge

CONF = Path(__file__).resolve().parents[1] / "conf/base"
#: --quick: a few seconds per step, for the test of this script.
QUICK_DATA = {"actions": ["walking", "freeform", "jumping_jacks", "lying"],
              "sequences_per_action": 1, "frames_per_sequence": 12}  # fmt: skip
QUICK_LOOP = {"epochs": 1, "max_steps_per_epoch": 5}


def conf(name: str) -> dict:
    return yaml.safe_load((CONF / f"parameters_{name}.yml").read_text())


def prepare(name: str, spec: dict, base: dict, work: Path, quick: bool) -> None:
    """Generate one data entry, its model inputs and flow prior into ``work/data_<name>.pt``."""
    torch.set_num_threads(4)
    ingestion, norm = conf("ingestion"), conf("normalization")
    synthetic = deep_merge(
        deep_merge(ingestion["synthetic"], base.get("synthetic")), spec.get("synthetic")
    )
    flow = deep_merge(deep_merge(norm["flow"], base.get("flow")), spec.get("flow"))
    if quick:
        synthetic, flow = deep_merge(synthetic, QUICK_DATA), deep_merge(flow, {"loop": QUICK_LOOP})
    raw = ingest_dataset(ingestion["dataset"], synthetic, norm["splits"])
    splits = normalization.build_model_inputs(
        raw, norm["splits"], ingestion["dataset"], norm["normalization"]
    )
    stats = normalization.compute_statistics(splits[0])
    flow_artifact, _ = normalization.train_flow_prior(*splits[:2], stats, flow)
    data = dict(zip(("train", "val", "test"), splits, strict=True))
    torch.save({**data, "stats": stats, "flow": flow_artifact}, work / f"data_{name}.pt")


def mirrored(split: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The split's LiftNet inputs of the mirror images (``inference.lifting.mirror_inputs``)."""
    tensors = {k: torch.as_tensor(split[k]) for k in ("pose2d", "gravity")}
    tensors["root_ray"] = torch.as_tensor(split["rays"][:, 0, :2])
    flipped = mirror_inputs(tensors)
    # Rays are 3D directions: they mirror as camera-frame points do.
    rays = mirror_poses(torch.as_tensor(split["rays"])).numpy()
    return {**split, "pose2d": flipped["pose2d"].numpy(), "gravity": flipped["gravity"].numpy(),
            "rays": rays}  # fmt: skip


def clip_subset(split: dict[str, np.ndarray], share: float) -> dict[str, np.ndarray]:
    """A random ``share`` of the split's clips (subject, action, sequence), all their rows."""
    clip = np.char.add(
        np.char.add(split["subject"], split["action"]), split["sequence"].astype(str)
    )
    names = np.unique(clip)
    keep = names[np.random.default_rng(0).random(len(names)) < share]
    rows = np.isin(clip, keep)
    return {k: v[rows] for k, v in split.items()}


def score(model, test: dict[str, np.ndarray]) -> dict[str, float]:
    """PA-MPJPE (mm) on seen and held-out test motions, without and with the flip test."""
    inputs, held = lift_tensors(test), np.asarray(test["heldout_motion"], bool)
    out = {}
    for tag, flip in (("", False), ("flip_", True)):
        pred = predict_poses(model, inputs, flip=flip)
        pa = joint_errors(pred, test["pose3d_cam"], "procrustes").mean(-1)
        out[f"{tag}seen"] = round(float(pa[~held].mean()), 2)
        out[f"{tag}held"] = round(float(pa[held].mean()), 2)
    return out


def run_variant(variant: dict) -> dict:
    """Train and score one variant; an error becomes the record instead of ending the sweep."""
    try:
        torch.set_num_threads(2)
        work, extra = Path(variant["work"]), variant.get("extra") or {}
        data = torch.load(work / f"data_{variant['data']}.pt", weights_only=False)
        test = (
            data["test"]
            if variant["test"] == variant["data"]
            else torch.load(work / f"data_{variant['test']}.pt", weights_only=False)["test"]
        )
        params = deep_merge(conf("liftnet")["liftnet"], variant["base"].get("liftnet"))
        params, _ = run_settings(deep_merge(params, variant.get("liftnet")))
        params = deep_merge(params, {"loop": {"precision": "fp32", "devices": 1}})
        if variant["quick"]:
            params = deep_merge(params, {"loop": QUICK_LOOP})
        train, val = seen_motions(data["train"]), seen_motions(data["val"])
        if extra.get("subsample"):
            train = clip_subset(train, float(extra["subsample"]))
        if extra.get("mirror"):
            mirror = mirrored(train)
            train = {k: np.concatenate([v, mirror[k]]) for k, v in train.items()}
        start = time.time()
        model, _ = lift_training.train_liftnet(
            train, val, data["stats"]["bone_length_mean"], flow_from_artifact(data["flow"]),
            lift_training.training_config(params),
        )  # fmt: skip
        record = {"name": variant["name"], "data": variant["data"], "samples": len(train["pose2d"]),
                  "seconds": round(time.time() - start, 1), **score(model, test)}  # fmt: skip
    except Exception:  # one failed variant must not lose the others
        record = {"name": variant["name"], "error": traceback.format_exc()[-2000:]}
    print(json.dumps(record), flush=True)
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--plan", default=str(Path(__file__).with_name("sweep_liftnet.yml")))
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--out", default="sweep.jsonl")
    parser.add_argument("--only", default="", help="comma-separated variant names")
    parser.add_argument("--work", default="/tmp/sweep_liftnet", help="generated data go here")
    parser.add_argument("--quick", action="store_true", help="tiny data and training (tests)")
    args = parser.parse_args()
    os.environ.setdefault("EPOCH_PROGRESS", "0")
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    plan = yaml.safe_load(Path(args.plan).read_text())
    names = [v for v in args.only.split(",") if v]
    variants = [v for v in plan["variants"] if not names or v["name"] in names]
    first, base = next(iter(plan["data"])), plan.get("base") or {}
    context = mp.get_context("spawn")  # CUDA cannot be used in forked workers
    with context.Pool(len(plan["data"])) as pool:
        jobs = [(name, spec or {}, base, work, args.quick) for name, spec in plan["data"].items()]
        pool.starmap(prepare, jobs)
    jobs = [
        {**v, "base": base, "work": str(work), "test": first, "quick": args.quick} for v in variants
    ]
    with context.Pool(args.workers) as pool, open(args.out, "a") as out:
        for record in pool.imap_unordered(run_variant, jobs):
            out.write(json.dumps(record) + "\n")
            out.flush()


if __name__ == "__main__":
    main()
