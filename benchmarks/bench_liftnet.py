"""LiftNet throughput on this machine: training samples/s (full cycle) and inference poses/s.

Usage: python benchmarks/bench_liftnet.py [--width 512] [--blocks 3] [--batch 256] [--steps 30]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time

import numpy as np
import torch

from epoch_kedro.data.normalize import dataset_statistics, to_model_input
from epoch_kedro.data.synthetic import SyntheticConfig, generate_synthetic
from epoch_kedro.inference.lifting import lift_tensors
from epoch_kedro.models.flow import FlowConfig, PoseFlow
from epoch_kedro.models.liftnet import LiftNet, LiftNetConfig
from epoch_kedro.training.liftnet import CycleConfig, LossWeights, cycle_terms
from epoch_kedro.utils.runtime import pick_device


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--blocks", type=int, default=3)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    os.environ.setdefault("EPOCH_PROGRESS", "0")
    device = pick_device()
    config = dataclasses.replace(SyntheticConfig(seed=0), subjects=("S1", "S5"))
    split = to_model_input(generate_synthetic(config))
    stats = dataset_statistics(split)
    data = {k: v.to(device) for k, v in lift_tensors(split).items()}
    n = len(data["pose2d"])
    flow = (
        PoseFlow(FlowConfig(), stats["pose2d_mean"], stats["pca_components"], stats["pca_variance"])
        .to(device)
        .eval()
    )
    model = LiftNet(
        LiftNetConfig(width=args.width, blocks=args.blocks), stats["bone_length_mean"]
    ).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-4)
    generator = torch.Generator().manual_seed(0)

    def train_step(i: int) -> None:
        idx = torch.arange(i * args.batch, (i + 1) * args.batch) % n
        terms = cycle_terms(
            model,
            flow,
            {k: v[idx] for k, v in data.items()},
            generator,
            LossWeights(),
            CycleConfig(),
        )
        optimizer.zero_grad()
        terms["total"].backward()
        optimizer.step()

    train_step(0)  # warm-up
    start = time.perf_counter()
    for i in range(args.steps):
        train_step(i + 1)
    train_rate = args.steps * args.batch / (time.perf_counter() - start)
    model.eval()
    with torch.no_grad():
        model(data["pose2d"], data["scale2d"], data["root_ray"], data["gravity"])
        start = time.perf_counter()
        for _ in range(3):
            model(data["pose2d"], data["scale2d"], data["root_ray"], data["gravity"])
        infer_rate = 3 * n / (time.perf_counter() - start)
    params = sum(p.numel() for p in model.parameters())
    print(f"device: {device}, torch threads: {torch.get_num_threads()}")
    print(f"LiftNet width {args.width} x {args.blocks} blocks ({params / 1e6:.2f} M parameters)")
    print(
        f"training (lift + rotate + re-lift + losses + backward), batch {args.batch}: "
        f"{train_rate:,.0f} samples/s"
    )
    print(f"batched inference ({n:,} poses per call): {infer_rate:,.0f} poses/s")
    print(f"an epoch of the default profile (38,400 samples): {38400 / train_rate:.1f} s")
    assert np.isfinite(train_rate)


if __name__ == "__main__":
    main()
