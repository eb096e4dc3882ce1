"""Train the reference LiftNet (conf/base ``liftnet`` + ``liftnet_reference``) with joint dropout
settings of your choice, for the missing-joints measurement (docs/MISSING_JOINTS.md).

It runs the pipeline's own node function (:func:`train_lifter`) on the model-input splits
already built (data/05_model_input), the dataset statistics and a trained flow prior, so the
only differences from the default reference are the overrides given here.

Usage: python experiments/train_masked_liftnet.py OUT.pt [--flow data/06_models/flow.pt]
    [--share 0.5] [--dropout '{"score_hidden": false}'] [--losses '{"consistency": 1.0}']
    [--no-mask] [--epochs N] [--threads 1] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from epoch_kedro.pipelines.liftnet.nodes import train_lifter
from epoch_kedro.utils.checkpoint import save_checkpoint
from epoch_kedro.utils.config import deep_merge

DATA = Path("data")


def _load(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=True) as arrays:
        return {k: arrays[k] for k in arrays.files}


def _params(args: argparse.Namespace) -> tuple[dict, dict]:
    """The ``liftnet`` group and the reference's overrides plus this run's."""
    conf = yaml.safe_load(Path("conf/base/parameters_liftnet.yml").read_text())
    # Our own checkpoint folder: never resume from (or overwrite) the default run's.
    base = {**conf["liftnet"], "checkpoint_dir": tempfile.mkdtemp(prefix="masked-liftnet-")}
    base["torch_threads"] = args.threads
    dropout = {**json.loads(args.dropout), "share": 0.0 if args.no_mask else args.share}
    ours = {"model": {"presence_mask": not args.no_mask}, "dropout": dropout}
    ours["losses"] = json.loads(args.losses)
    ours["loop"] = {"seed": args.seed, **({"epochs": args.epochs} if args.epochs else {})}
    return base, deep_merge(conf["liftnet_reference"], ours)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--flow", type=Path, default=DATA / "06_models/flow.pt")
    parser.add_argument("--share", type=float, default=0.5, help="liftnet.dropout.share")
    parser.add_argument("--losses", default="{}", help="liftnet.losses weights, JSON")
    parser.add_argument("--no-mask", action="store_true", help="presence_mask false, no dropout")
    parser.add_argument("--dropout", default="{}", help="other liftnet.dropout keys, JSON")
    parser.add_argument("--epochs", type=int, default=0, help="0: the reference's")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0, help="liftnet.loop.seed")
    args = parser.parse_args(argv)
    base, overrides = _params(args)
    splits = [_load(DATA / f"05_model_input/{s}.npz") for s in ("train", "val")]
    stats = _load(DATA / "04_feature/statistics.npz")
    flow = torch.load(args.flow, weights_only=True)
    start = time.perf_counter()
    artifact, history = train_lifter(*splits, {}, {}, stats, flow, base, overrides)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(artifact, args.out)  # with its checksum, as load_checkpoint requires
    summary = {"out": str(args.out), "overrides": overrides, "seconds": time.perf_counter() - start,
               "last_epoch": history[-1]}  # fmt: skip
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
