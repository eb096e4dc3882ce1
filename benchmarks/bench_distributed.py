"""Data-parallel training throughput: samples/s of RegNet and LiftNet on 1 and N processes.

Each model trains through its own training function (``train_regnet``, ``train_liftnet``) with
the default profile's settings (``conf/base``), started by ``training.distributed.launch`` as
``loop.devices: N`` does in a Kedro run: CPU processes with gloo here, one process per GPU with
NCCL where there are GPUs. The global batch stays the configured one, split over the
processes. Samples/s counts ``--steps`` optimiser steps of one epoch (``max_steps_per_epoch``)
and validation, and excludes process start-up, reported on its own (a spawned worker imports
torch and the project again).

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
from epoch_kedro.data.synthetic.render import RenderConfig, render_crops
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
    os.environ.setdefault("EPOCH_PROGRESS", "0")
    data = generate_synthetic(dataclasses.replace(SyntheticConfig(seed=0), subjects=("S1",)))
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
    crops = ImageSet(render_crops(data, rows, boxes, RenderConfig(size=crop_size)),
                     {"sample_id": rows, "box": boxes.astype(np.float32)})  # fmt: skip
    print(f"torch {torch.__version__}, {os.cpu_count()} CPU cores, "
          f"{torch.cuda.device_count()} GPU(s); {args.steps} steps per measurement")  # fmt: skip
    for devices in args.devices:
        startup = timed(nothing, devices=devices) if devices > 1 else 0.0
        lift = lift_training.training_config(group("liftnet", args.steps, devices))
        seconds = timed(lift_training.train_liftnet, split, val, stats["bone_length_mean"],
                        flow, lift, devices=devices) - startup  # fmt: skip
        lift_rate = args.steps * lift.loop.batch_size / seconds
        reg_params = {**group("regnet", args.steps, devices), "validation_samples": 64}
        reg = regnet_training.training_config(reg_params)
        bones = stats["bone_length_mean"]
        seconds = timed(regnet_training.train_regnet, split, split, crops, bones, flow, reg,
                        devices=devices) - startup  # fmt: skip
        reg_rate = args.steps * reg.loop.batch_size / seconds
        print(f"devices={devices}: LiftNet {lift_rate:,.0f} samples/s (batch "
              f"{lift.loop.batch_size}), RegNet {reg_rate:,.0f} crops/s at {crop_size} px "
              f"(batch {reg.loop.batch_size}); process start-up {startup:.1f} s")  # fmt: skip


if __name__ == "__main__":
    main()
