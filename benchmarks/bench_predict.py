"""End-to-end throughput of ``epoch-kedro predict`` on keypoint files (goal: >= 5,000 poses/s).

Writes COCO keypoint results of synthetic poses, then times :func:`epoch_kedro.predict.predict`
from reading the JSON to writing predictions.{json,npz,csv}, with the default run's LiftNet
(``data/06_models/liftnet.pt``; run ``make run`` first) or an untrained one of the size in
``conf/base`` (run from the project root).

Usage: python benchmarks/bench_predict.py [--poses 20000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from epoch_kedro.data.synthetic import SyntheticConfig, generate_synthetic
from epoch_kedro.models.artifacts import to_artifact
from epoch_kedro.models.liftnet import LiftNet, LiftNetConfig
from epoch_kedro.predict import DEFAULT_LIFTNET, camera_from_options, predict
from epoch_kedro.utils.checkpoint import save_checkpoint

GOAL = 5_000  # poses/s


def coco_results(poses: int, folder: Path) -> tuple[Path, np.ndarray]:
    """A COCO keypoint-results file of ``poses`` synthetic poses (17 COCO keypoints each)."""
    data = generate_synthetic(
        SyntheticConfig(seed=0, subjects=("S1", "S2"), frames_per_sequence=100)
    )
    kp17 = data["kp2d"][:poses].astype(np.float64)
    index = {"Nose": 9, "LShoulder": 11, "RShoulder": 14, "LElbow": 12, "RElbow": 15,
             "LWrist": 13, "RWrist": 16, "LHip": 4, "RHip": 1, "LKnee": 5, "RKnee": 2,
             "LAnkle": 6, "RAnkle": 3, "LEye": 10, "REye": 10, "LEar": 10, "REar": 10}  # fmt: skip
    from epoch_kedro.keypoints import LAYOUTS

    coco = np.stack([kp17[:, index[name]] for name in LAYOUTS["coco17"]], 1)
    coco = np.concatenate([coco, np.full((*coco.shape[:2], 1), 0.9)], -1)
    dets = [{"image_id": i, "keypoints": p.reshape(-1).round(2).tolist(), "score": 0.9}
            for i, p in enumerate(coco)]  # fmt: skip
    path = folder / "results.json"
    path.write_text(json.dumps(dets))
    return path, data["K"][0].astype(np.float64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--poses", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("EPOCH_PROGRESS", "0")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path, K = coco_results(args.poses, folder)
        model = DEFAULT_LIFTNET
        if not model.is_file():
            model = folder / "liftnet.pt"
            size = yaml.safe_load(Path("conf/base/parameters_liftnet.yml").read_text())
            shape = {k: size["liftnet"]["model"][k] for k in ("width", "blocks")}
            untrained = LiftNet(LiftNetConfig(**shape), np.full(16, 0.25))
            save_checkpoint(to_artifact(untrained, "liftnet"), model)
        (folder / "camera.json").write_text(json.dumps({"K": K.tolist()}))
        camera = camera_from_options(str(folder / "camera.json"))
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            summary = predict([str(path)], folder / "out", camera=camera, liftnet=model)
            times.append(time.perf_counter() - start)
    rate = summary["lifted"] / min(times)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"torch threads {torch.get_num_threads()}; LiftNet {model}")  # fmt: skip
    print(f"{summary['lifted']:,} poses from one COCO results file: best of {args.repeats} "
          f"{min(times):.2f} s, {rate:,.0f} poses/s (read, convert, lift, write)")  # fmt: skip
    print(f"goal {GOAL:,} poses/s: {'meets' if rate >= GOAL else 'MISSES'}")


if __name__ == "__main__":
    main()
