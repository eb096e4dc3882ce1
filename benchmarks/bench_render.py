"""Rendering throughput: full frames (the localiser's input) and person crops (RegNet's input).

Full frames are the whole camera frame resized to ``size`` px (``render_dataset``); crops are
rendered directly with the crop intrinsics at the label boxes (``boxes_from_keypoints`` of the
2D labels, jittered as the training crops are; ``render_crops``). Only rendering is timed.
Goal: >= 1,000 crops/s at 128 px on 2 cores.

Usage: python benchmarks/bench_render.py [--sizes 64 128] [--images 1024]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from collections.abc import Callable

import numpy as np
import torch

from epoch_kedro.data.boxes import BoxConfig, boxes_from_keypoints, jitter_boxes
from epoch_kedro.data.synthetic import SyntheticConfig, generate_synthetic
from epoch_kedro.data.synthetic.render import RendererConfig, render_crops, render_dataset

GOAL_SIZE, GOAL_RATE = 128, 1000


def rate(render: Callable[[int], object], count: int, repeats: int = 3) -> float:
    """Images/s of ``render(count)`` (the first ``count`` images), after a 256-image warm-up:
    the median of ``repeats`` timings (single timings vary by +-10 % on a shared machine)."""
    render(min(count, 256))
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        render(count)
        rates.append(count / (time.perf_counter() - start))
    return float(np.median(rates))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--images", type=int, default=1024)
    args = parser.parse_args()
    os.environ.setdefault("EPOCH_PROGRESS", "0")
    data = generate_synthetic(dataclasses.replace(SyntheticConfig(seed=0), subjects=("S1", "S9")))
    rows = np.random.default_rng(0).choice(len(data["kp2d"]), args.images, replace=False)
    # The training crops' boxes: around the visible 2D labels, jittered per sample id.
    box_config = BoxConfig()
    labels = boxes_from_keypoints(data["kp2d"][rows], data["visible"][rows], box_config)
    boxes = jitter_boxes(labels, rows, RendererConfig().seed, box_config)
    print(f"torch threads: {torch.get_num_threads()}, {args.images} images per size and kind")
    crop_rates = {}
    for size in args.sizes:
        config = RendererConfig(size=size)
        frames = rate(lambda n, c=config: render_dataset(data, rows[:n], c), len(rows))
        crops = rate(lambda n, c=config: render_crops(data, rows[:n], boxes[:n], c), len(rows))
        crop_rates[size] = crops
        print(f"{size:4d} px: full frames {frames:8,.0f} images/s, crops {crops:8,.0f} crops/s")
    goal = f"goal >= {GOAL_RATE:,} crops/s at {GOAL_SIZE} px"
    if GOAL_SIZE in crop_rates:
        measured = crop_rates[GOAL_SIZE]
        verdict = "meets" if measured >= GOAL_RATE else "misses"
        print(f"{goal}: {verdict} ({measured:,.0f} crops/s)")
    else:
        print(f"{goal}: not measured ({GOAL_SIZE} is not in --sizes)")


if __name__ == "__main__":
    main()
