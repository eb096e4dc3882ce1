"""How adaptation moves a LiftNet on the multi-view development set (docs/ADAPTATION.md).

Loads the development set's test split as the cross-dataset pipeline does (``make devset``
builds ``data/01_raw/pose2sim_devset``), adapts a trained LiftNet to its 2D poses and cameras
(:func:`epoch_kedro.training.adapt.adapt_model`; the 3D truth is used only to score), and
prints PA-MPJPE and MPJPE overall and per camera, before and after. Options measure the
issue's checks: ``--half`` adapts on the first half of the frames and scores the second half
(``--score-second-half`` alone: adapts on all, scores the same second half);
``--poses N`` adapts on N random poses (scored on all); ``--synthetic`` also scores both
models on the synthetic test split; ``--set key=value`` overrides the adaptation settings.

Usage: python experiments/adapt_devset.py [--model data/06_models/liftnet.pt] [--half]
    [--poses N] [--synthetic] [--set steps=800 seed=1 ...] [--out result.json]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
from kedro.config import OmegaConfigLoader

from epoch_kedro.evaluation.evaluate import evaluate_setting
from epoch_kedro.inference.lifting import lift_tensors, predict_poses
from epoch_kedro.models.artifacts import liftnet_from_artifact
from epoch_kedro.pipelines.ingestion.nodes import ingest_dataset
from epoch_kedro.pipelines.normalization.nodes import build_model_inputs
from epoch_kedro.training.adapt import AdaptConfig, adapt_model
from epoch_kedro.utils.checkpoint import load_checkpoint

DEVSET = "data/01_raw/pose2sim_devset"


def devset_split(root: str) -> dict[str, np.ndarray]:
    """The recording's test split, with this project's parameters (conf/base)."""
    params = OmegaConfigLoader("conf", base_env="base", default_run_env="local")["parameters"]
    dataset = {**params["cross_dataset"]["dataset"], "kind": "multiview", "root": root,
               "name": "pose2sim_devset"}  # fmt: skip
    raw = ingest_dataset(dataset, params["synthetic"], params["splits"])
    return build_model_inputs(raw, params["splits"], dataset, params["normalization"])[2]


def rows(split: dict[str, np.ndarray], mask: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[mask] for k, v in split.items()}


def score(model, split: dict[str, np.ndarray]) -> dict:
    m = evaluate_setting(predict_poses(model, lift_tensors(split)), split)
    per_camera = {c: v["pa_mpjpe"] for c, v in m.get("by_camera", {}).items()}
    return {"pa_mpjpe": m["pa_mpjpe"], "mpjpe": m["mpjpe"], "by_camera": per_camera}


def settings(pairs: list[str]) -> AdaptConfig:
    """``key=value`` overrides of the default adaptation settings, typed as the defaults."""
    types = {f.name: f.type for f in fields(AdaptConfig)}
    values = {}
    for pair in pairs:
        key, value = pair.split("=", 1)
        if key not in types:
            raise SystemExit(f"--set {key}: not an adaptation setting ({', '.join(types)})")
        kind = types[key]
        values[key] = (value.lower() in {"1", "true"} if "bool" in kind
                       else int(value) if kind == "int" else float(value))  # fmt: skip
    return replace(AdaptConfig(), **values)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=Path("data/06_models/liftnet.pt"))
    ap.add_argument("--root", default=DEVSET)
    ap.add_argument("--half", action="store_true", help="adapt on the first half of the frames")
    ap.add_argument("--score-second-half", action="store_true",
                    help="score the second half only (--half: frames not adapted on)")  # fmt: skip
    ap.add_argument("--poses", type=int, help="adapt on this many random poses")
    ap.add_argument("--synthetic", action="store_true", help="also score the synthetic test")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    model = liftnet_from_artifact(load_checkpoint(args.model))
    split = devset_split(args.root)
    adapt_on = score_on = np.ones(len(split["frame"]), bool)
    first = split["frame"] < np.median(np.unique(split["frame"]))
    if args.half:
        adapt_on = first
    if args.half or args.score_second_half:
        score_on = ~first
    if args.poses:
        picked = np.random.default_rng(0).choice(np.flatnonzero(adapt_on), args.poses, False)
        adapt_on = np.isin(np.arange(len(adapt_on)), picked)
    config = settings(args.set)
    start = time.perf_counter()
    adapted = adapt_model(model, lift_tensors(rows(split, adapt_on)), config, {"experiment": 1})
    result = {
        "model": str(args.model), "config": config.__dict__, "adapted_on": int(adapt_on.sum()),
        "scored_on": int(score_on.sum()), "seconds": round(time.perf_counter() - start, 1),
        "before": score(model, rows(split, score_on)),
        "after": score(adapted, rows(split, score_on)),
        "kept_step": adapted.adapted["kept_step"],
    }  # fmt: skip
    if args.synthetic:
        test = dict(np.load("data/05_model_input/test.npz", allow_pickle=True))
        result["synthetic"] = {"before": score(model, test)["pa_mpjpe"],
                               "after": score(adapted, test)["pa_mpjpe"]}  # fmt: skip
    print(json.dumps(result, indent=1))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
