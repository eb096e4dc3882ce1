"""Data-parallel training throughput: samples/s of RegNet and LiftNet on 1 and N processes.

Each model trains through its own training function (``train_regnet``, ``train_liftnet``) with
the default profile's settings (``conf/base``), started by ``training.distributed.launch`` as
``loop.devices: N`` does in a Kedro run: CPU processes with gloo here, one process per GPU with
NCCL where there are GPUs. The global batch stays the configured one, split over the
processes. Samples/s is the steady rate of the optimiser steps: one epoch of ``3 * --steps``
steps minus one of ``--steps`` (``max_steps_per_epoch``), so start-up, data hand-over, model
building and validation cancel out. Process start-up (a spawned worker imports torch and the
project again) is reported on its own.

Usage: python benchmarks/bench_distributed.py [--devices 1 2] [--steps 30] [--samples 6000]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from epoch_kedro.data.boxes import BoxConfig, boxes_from_keypoints, jitter_boxes
from epoch_kedro.data.images import ImageSet
from epoch_kedro.data.normalize import dataset_statistics, to_model_input
from epoch_kedro.data.schema import take
from epoch_kedro.data.synthetic import SyntheticConfig, generate_synthetic
from epoch_kedro.data.synthetic.render import RendererConfig, render_crops
from epoch_kedro.models.flow import FlowConfig, PoseFlow
from epoch_kedro.training import liftnet as lift_training
from epoch_kedro.training import regnet as regnet_training
from epoch_kedro.training.distributed import launch
from epoch_kedro.training.run import run_settings

CONF = Path(__file__).resolve().parents[1] / "conf/base"


def group(name: str, steps: int, devices: int) -> dict:
    """The default profile's parameter group ``name``, for one epoch of ``steps`` steps."""
    params = yaml.safe_load((CONF / f"parameters_{name}.yml").read_text())[name]
    params, _ = run_settings(params)
    loop = {**params.get("loop", {}), "epochs": 1, "max_steps_per_epoch": steps}
    return {**params, "loop": {**loop, "devices": devices}}


def nothing() -> int:
    return 0


def timed(fn, *args, devices: int, **kwargs) -> float:
    start = time.perf_counter()
    launch(fn, *args, devices=devices, **kwargs)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--samples", type=int, default=6000, help="crops rendered for RegNet")
    args = parser.parse_args()
    if 3 * args.steps > 56:
        parser.error("--steps: at most 18 (three times it must fit in one LiftNet epoch)")
    os.environ.setdefault("EPOCH_PROGRESS", "0")
    # Two subjects: 14,400 samples, 56 LiftNet steps of 256, so 3 * --steps fits in one epoch.
    data = generate_synthetic(dataclasses.replace(SyntheticConfig(seed=0), subjects=("S1", "S5")))
    data["sample_id"] = np.arange(len(data["kp2d"]))
    split = to_model_input(data)
    stats = dataset_statistics(split)
    val = take(split, np.arange(len(split["kp2d"])) < 256)  # validation is not what is timed
    flow = PoseFlow(FlowConfig(), stats["pose2d_mean"], stats["pca_components"],
                    stats["pca_variance"])  # fmt: skip
    rows = np.linspace(0, len(data["kp2d"]) - 1, args.samples).astype(int)
    crop_size = yaml.safe_load((CONF / "parameters_ingestion.yml").read_text())["render"]
    crop_size = int(crop_size["crop_size"])
    boxes = jitter_boxes(boxes_from_keypoints(data["kp2d"][rows], data["visible"][rows],
                                              BoxConfig()), rows, 0, BoxConfig())  # fmt: skip
    crops = ImageSet(render_crops(data, rows, boxes, RendererConfig(size=crop_size)),
                     {"sample_id": rows, "box": boxes.astype(np.float32)})  # fmt: skip
    print(f"torch {torch.__version__}, {os.cpu_count()} CPU cores, "
          f"{torch.cuda.device_count()} GPU(s); {args.steps} steps per measurement")  # fmt: skip
    bones = stats["bone_length_mean"]
    for devices in args.devices:
        startup = timed(nothing, devices=devices) if devices > 1 else 0.0

        def lift(steps: int, devices: int = devices):
            config = lift_training.training_config(group("liftnet", steps, devices))
            return (lift_training.train_liftnet, split, val, bones, flow, config), config

        def regnet(steps: int, devices: int = devices):
            params = {**group("regnet", steps, devices), "validation_samples": 64}
            config = regnet_training.training_config(params)
            return (regnet_training.train_regnet, split, split, crops, bones, flow, config), config

        lift_rate, lift_batch = steady_rate(lift, args.steps, devices)
        reg_rate, reg_batch = steady_rate(regnet, args.steps, devices)
        print(f"devices={devices}: LiftNet {lift_rate:,.0f} samples/s (batch {lift_batch}), "
              f"RegNet {reg_rate:,.0f} crops/s at {crop_size} px (batch {reg_batch}); "
              f"process start-up {startup:.1f} s")  # fmt: skip


def steady_rate(job, steps: int, devices: int) -> tuple[float, int]:
    """Samples/s of the steps alone: a run of ``3 * steps`` minus one of ``steps`` cancels
    start-up, data hand-over, model building and validation."""
    if devices == 1:  # this process pays its one-time warm-up (lazy inits, kernels) here
        (fn, *args), _ = job(steps)
        timed(fn, *args, devices=1)
    times = []
    for count in (steps, 3 * steps):
        (fn, *args), config = job(count)
        times.append(timed(fn, *args, devices=devices))
    batch = config.loop.batch_size
    return 2 * steps * batch / (times[1] - times[0]), batch


if __name__ == "__main__":
    main()
