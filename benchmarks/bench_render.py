"""Rendering throughput (goal: >= 1,000 images/s at 128 px on 2 cores).

Usage: python benchmarks/bench_render.py [--sizes 64 128] [--images 1024]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time

import numpy as np
import torch

from epoch_kedro.data.synthetic import SyntheticConfig, generate_synthetic
from epoch_kedro.data.synthetic.render import RenderConfig, render_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--images", type=int, default=1024)
    args = parser.parse_args()
    os.environ.setdefault("EPOCH_PROGRESS", "0")
    data = generate_synthetic(dataclasses.replace(SyntheticConfig(seed=0), subjects=("S1", "S9")))
    rows = np.random.default_rng(0).choice(len(data["kp2d"]), args.images, replace=False)
    print(f"torch threads: {torch.get_num_threads()}, {args.images} images per size")
    for size in args.sizes:
        config = RenderConfig(size=size)
        render_dataset(data, rows[:256], config)  # warm-up
        start = time.perf_counter()
        render_dataset(data, rows, config)
        rate = args.images / (time.perf_counter() - start)
        verdict = "meets" if rate >= 1000 else "misses"
        print(f"{size:4d} px: {rate:8,.0f} images/s ({verdict} the 1,000 images/s goal)")


if __name__ == "__main__":
    main()
