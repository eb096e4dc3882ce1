"""fp32 vs bf16 autocast step times of the project's own networks on this machine.

For each network of the default profile (sizes from ``conf/base``) it times one training step
(forward, losses, backward) in fp32 and under bf16 autocast with the training loop's own probe
(``utils.precision.time_steps``: best of a few interleaved steps) and prints what
``precision: auto`` decides here. A bare 512 x 3 MLP (batch 512) is timed too, as a figure to
compare CPUs by. Emulated bf16 (a CPU without AVX512-BF16/AMX) is timed as well, to show
what the decision avoids.

Usage: python benchmarks/bench_precision.py [--threads N]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import yaml
from torch import nn

from epoch_kedro.data.boxes import BoxConfig, boxes_from_keypoints
from epoch_kedro.data.images import ImageSet
from epoch_kedro.data.normalize import dataset_statistics, to_model_input
from epoch_kedro.data.synthetic import SyntheticConfig, generate_synthetic
from epoch_kedro.data.synthetic.render import RendererConfig, render_crops, render_dataset
from epoch_kedro.inference.lifting import lift_tensors
from epoch_kedro.models.flow import FlowConfig, PoseFlow
from epoch_kedro.models.liftnet import LiftNet, LiftNetConfig
from epoch_kedro.models.localizer import Localizer, LocalizerConfig
from epoch_kedro.models.regnet import RegNet, RegNetConfig
from epoch_kedro.training import localizer as L
from epoch_kedro.training import regnet as T
from epoch_kedro.training.liftnet import CycleConfig, LossWeights, cycle_terms
from epoch_kedro.utils.config import from_params
from epoch_kedro.utils.precision import MIN_GAIN, device_name, native_bf16, time_steps
from epoch_kedro.utils.runtime import pick_device

CONF = Path(__file__).resolve().parents[1] / "conf" / "base"
Step = Callable[[bool], None]


def base(group: str, file: str) -> dict:
    return yaml.safe_load((CONF / f"parameters_{file}.yml").read_text())[group]


def training_step(loss: Callable[[], torch.Tensor], model: nn.Module) -> Step:
    def step(_bf16: bool) -> None:
        model.zero_grad(set_to_none=True)
        loss().backward()

    return step


def steps(device: torch.device) -> dict[str, tuple[str, Step]]:
    """Network name -> (its batch, one training step)."""
    data = generate_synthetic(dataclasses.replace(SyntheticConfig(seed=0), subjects=("S1",)))
    data["sample_id"] = np.arange(len(data["kp2d"]))
    split = to_model_input(data)
    stats = dataset_statistics(split)
    generator = torch.Generator().manual_seed(0)
    flow = PoseFlow(
        from_params(FlowConfig, base("flow", "normalization").get("model"), "flow.model"),
        stats["pose2d_mean"],
        stats["pca_components"],
        stats["pca_variance"],
    ).to(device)
    lift_batch = base("liftnet", "liftnet")["loop"]["batch_size"]
    lift_data = {k: v[:lift_batch].to(device) for k, v in lift_tensors(split).items()}
    lift_model = from_params(LiftNetConfig, base("liftnet", "liftnet")["model"], "liftnet.model")
    liftnet = LiftNet(lift_model, stats["bone_length_mean"]).to(device)
    flow_batch = base("flow", "normalization")["loop"]["batch_size"]
    pose = lift_data["pose2d"][:flow_batch]

    def lift_loss() -> torch.Tensor:
        terms = cycle_terms(
            liftnet, flow.eval(), lift_data, generator, LossWeights(), CycleConfig()
        )
        return terms["total"]

    rows = np.arange(0, len(data["kp2d"]), 7)[:64]
    regnet_config = from_params(RegNetConfig, base("regnet", "regnet")["model"], "regnet.model")
    boxes = boxes_from_keypoints(data["kp2d"][rows], data["visible"][rows], BoxConfig())
    crops = render_crops(data, rows, boxes, RendererConfig(size=regnet_config.image_size))
    crop_set = ImageSet(crops, {"sample_id": rows, "box": boxes.astype(np.float32)})
    regnet_batch = {k: v[:].to(device) for k, v in T.regnet_tensors(split, crop_set).items()}
    regnet = RegNet(regnet_config, stats["bone_length_mean"]).to(device)
    regnet = regnet.to(memory_format=torch.channels_last)
    loc_config = from_params(LocalizerConfig, base("localizer", "regnet")["model"], "model")
    frames, _ = render_dataset(data, rows, RendererConfig(size=loc_config.image_size))
    frame_set = ImageSet(frames, {"sample_id": rows})
    loc_batch = {k: v[:].to(device) for k, v in L.frame_tensors(split, frame_set).items()}
    localizer = Localizer(loc_config).to(device).to(memory_format=torch.channels_last)
    weights, size = T.RegNetLossWeights(), loc_config.image_size
    augment, frame_augment = T.AugmentConfig(), L.FrameAugment()
    mlp = nn.Sequential(*[m for _ in range(3) for m in (nn.Linear(512, 512), nn.ReLU())])
    x = torch.randn(512, 512, device=device)

    def regnet_loss() -> torch.Tensor:
        batch = T.augment(regnet_batch, generator, augment)  # as training: uint8 -> float
        return T.regnet_terms(regnet, flow.eval(), batch, generator, weights)["total"]

    def loc_loss() -> torch.Tensor:
        batch = L.augment(loc_batch, generator, frame_augment)
        pred, _ = localizer(batch["image"])
        return T.masked_l1(pred, batch["kp2d"], batch["visible"], size)

    return {
        f"LiftNet {lift_model.width}x{lift_model.blocks} cycle": (
            f"{lift_batch} poses",
            training_step(lift_loss, liftnet),
        ),
        "flow prior (maximum likelihood)": (
            f"{len(pose)} poses",
            training_step(lambda: -flow.train().log_prob(pose).mean(), flow),
        ),
        f"RegNet {regnet_config.image_size} px": (
            f"{len(rows)} crops",
            training_step(regnet_loss, regnet),
        ),
        f"localiser {size} px": (f"{len(rows)} frames", training_step(loc_loss, localizer)),
        "512x3 MLP (reference)": ("512 rows", training_step(lambda: mlp(x).square().mean(), mlp)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = parser.parse_args()
    os.environ.setdefault("EPOCH_PROGRESS", "0")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device()
    native = native_bf16(device)
    print(
        f"{device_name(device.type)}, torch {torch.__version__}, {torch.get_num_threads()} "
        f"threads; native bf16: {'yes' if native else 'no (emulated)'}"
    )
    print("| network | batch | fp32 step | bf16 step | bf16 speed-up | `precision: auto` |")
    print("|---|---|---|---|---|---|")
    for name, (batch, step) in steps(device).items():
        fp32_ms, bf16_ms = time_steps(device, step)
        pick = "bf16" if native and bf16_ms * MIN_GAIN <= fp32_ms else "fp32"
        print(
            f"| {name} | {batch} | {fp32_ms:.1f} ms | {bf16_ms:.1f} ms | "
            f"{fp32_ms / bf16_ms:.2f}x | {pick} |"
        )


if __name__ == "__main__":
    main()
