"""RegNet throughput: training images/s (forward, losses, backward, step) and inference images/s.

Usage: python benchmarks/bench_regnet.py [--size 64] [--stem-stride 2] [--batch 64] [--steps 20]
Uses CUDA with bf16 autocast and channels-last when available, else the CPU (the same code).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import time

import numpy as np
import torch

from epoch_kedro.data.normalize import dataset_statistics, to_model_input
from epoch_kedro.data.synthetic import SyntheticConfig, generate_synthetic
from epoch_kedro.data.synthetic.render import RenderConfig, render_dataset
from epoch_kedro.models.regnet import RegNet, RegNetConfig
from epoch_kedro.training import regnet as T
from epoch_kedro.utils.runtime import pick_device


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--stem-stride", type=int, default=2, choices=(2, 4))
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    os.environ.setdefault("EPOCH_PROGRESS", "0")
    device = pick_device()
    data = generate_synthetic(dataclasses.replace(SyntheticConfig(seed=0), subjects=("S1",)))
    data["sample_id"] = np.arange(len(data["kp2d"]))
    split = to_model_input(data)
    rows = np.arange(0, len(split["kp2d"]), 4)
    images, K = render_dataset(data, rows, RenderConfig(size=args.size))
    batch_all = T.regnet_tensors(split, images, {"sample_id": rows, "K": K})
    model = RegNet(
        RegNetConfig(image_size=args.size, stem_stride=args.stem_stride),
        dataset_statistics(split)["bone_length_mean"],
    )
    model = model.to(device).to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(0)
    n = len(batch_all["image"])
    autocast = (
        torch.autocast("cuda", dtype=torch.bfloat16)
        if device.type == "cuda"
        else contextlib.nullcontext()
    )

    def step(i: int) -> None:
        idx = torch.arange(i * args.batch, (i + 1) * args.batch) % n
        batch = {k: v[idx].to(device) for k, v in batch_all.items()}
        with autocast:
            terms = T.regnet_terms(
                model,
                None,
                T.augment(batch, generator, T.AugmentConfig()),
                generator,
                T.RegNetLossWeights(flow=0),
            )
        optimizer.zero_grad()
        terms["total"].backward()
        optimizer.step()

    step(0)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for i in range(args.steps):
        step(i + 1)
    if device.type == "cuda":
        torch.cuda.synchronize()
    train_rate = args.steps * args.batch / (time.perf_counter() - start)
    start = time.perf_counter()
    T.predict(model, images, batch_size=256)
    infer_rate = len(images) / (time.perf_counter() - start)
    params = sum(p.numel() for p in model.parameters()) / 1e6
    print(f"device: {device}, torch threads: {torch.get_num_threads()}, {args.size} px images")
    print(
        f"RegNet ({params:.2f} M parameters) training: {train_rate:,.0f} images/s "
        f"(batch {args.batch})"
    )
    print(f"RegNet inference: {infer_rate:,.0f} images/s")


if __name__ == "__main__":
    main()
