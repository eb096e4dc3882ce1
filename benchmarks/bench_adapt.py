"""``epoch-kedro predict --adapt`` end to end on 1,000 poses (goal: <= 2 minutes in all).

Writes H36M-17 keypoints of synthetic poses (other people and motions than the training
run's: another seed) seen through one camera, then times :func:`epoch_kedro.predict.predict` with
the default adaptation, from reading the file to writing predictions and
``liftnet_adapted.pt``. Needs the default run's LiftNet (``make run`` first), which carries the
adaptation data. Prints the CPU and the time of each phase from the adaptation's record.

Usage: python benchmarks/bench_adapt.py [--poses 1000] [--liftnet data/06_models/liftnet.pt]
    [--steps N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from epoch_kedro.data.synthetic import SyntheticConfig, generate_synthetic
from epoch_kedro.geometry import project, world_to_camera
from epoch_kedro.predict import DEFAULT_LIFTNET, camera_from_options, predict
from epoch_kedro.training.adapt import AdaptConfig

GOAL_S = 120.0


def cpu_name() -> str:
    """The CPU model as ``lscpu`` names it (timings differ by CPU: name it beside them)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        return next(line.split(":", 1)[1].strip() for line in out.splitlines()
                    if line.startswith("Model name"))  # fmt: skip
    except (OSError, subprocess.CalledProcessError, StopIteration):
        return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--poses", type=int, default=1000)
    parser.add_argument("--liftnet", type=Path, default=DEFAULT_LIFTNET)
    parser.add_argument("--steps", type=int, help="LiftNet steps (default: the default's)")
    args = parser.parse_args()
    if not args.liftnet.is_file():
        raise SystemExit(f"{args.liftnet}: no trained LiftNet; run `make run` first")
    data = generate_synthetic(
        SyntheticConfig(seed=11, subjects=("S1", "S5"), frames_per_sequence=60)
    )
    rows = np.random.default_rng(0).permutation(len(data["kp2d"]))[: args.poses]
    # One camera for the whole file, as predict takes it: every pose seen through the first K.
    K = data["K"][0].astype(np.float64)
    world = (data[key][rows].astype(np.float64) for key in ("pose3d_world", "R", "t"))
    keypoints = project(world_to_camera(*world), K)
    config = AdaptConfig() if args.steps is None else replace(AdaptConfig(), steps=args.steps)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        np.savez(folder / "poses.npz", keypoints=keypoints)
        (folder / "camera.json").write_text(
            json.dumps({"K": K.tolist(), "image_size": [1000, 1000]})
        )
        camera = camera_from_options(str(folder / "camera.json"))
        start = time.perf_counter()
        summary = predict([str(folder / "poses.npz")], folder / "out", camera=camera,
                          liftnet=args.liftnet, adapt=config)  # fmt: skip
        seconds = time.perf_counter() - start
        record = json.loads((folder / "out/predictions.json").read_text())["adaptation"]
    print(f"CPU: {cpu_name()}, {os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}, "
          f"CUDA {'yes' if torch.cuda.is_available() else 'no'}")  # fmt: skip
    print(f"predict --adapt on {summary['lifted']:,} poses ({config.flow_steps} prior steps, "
          f"{config.steps} LiftNet steps, kept step {record['kept_step']}): {seconds:.1f} s "
          f"(goal <= {GOAL_S:.0f} s: {'met' if seconds <= GOAL_S else 'MISSED'})")  # fmt: skip


if __name__ == "__main__":
    main()
