"""``epoch-kedro predict`` on image files: images/s end to end, and (after ``make run``) its
accuracy against the chain's ``liftnet_regnet`` figures on the same frames.

Renders test frames of the default run at their full resolution (1000 x 1000 px) into one
folder per video and times :func:`epoch_kedro.predict.predict` on them with
``--same-camera``: PNG decoding, the localiser, crop cutting, RegNet (flip test, one refine
pass), LiftNet and the outputs. With the default run's outputs (``data/06_models``,
``data/07_model_output/regnet_inputs_test.npz``), it also prints PA-MPJPE / MPJPE of predict
and of the chain's LiftNet inputs for those frames: predict reads full-resolution images where
the chain renders its crops directly, so the two agree within the noise of that difference.
Without them, it times untrained models of the ``conf/base`` size on generated frames.
It also reports the share of these rendered frames that predict flags as out of RegNet's
domain (``"out_of_domain"``, docs/OUT_OF_DOMAIN.md): with trained models it should be small.

Usage: python benchmarks/bench_predict_images.py [--videos 30] [--repeats 2]
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
from PIL import Image

from epoch_kedro.api import load_liftnet
from epoch_kedro.chain import video_keys
from epoch_kedro.data.synthetic import SyntheticConfig, generate_synthetic
from epoch_kedro.data.synthetic.render import RendererConfig, render_dataset
from epoch_kedro.evaluation.metrics import pose_metrics
from epoch_kedro.inference.lifting import lift_tensors, predict_poses
from epoch_kedro.models.artifacts import to_artifact
from epoch_kedro.models.liftnet import LiftNet, LiftNetConfig
from epoch_kedro.models.localizer import Localizer, LocalizerConfig
from epoch_kedro.models.regnet import RegNet, RegNetConfig
from epoch_kedro.predict import predict
from epoch_kedro.utils.checkpoint import save_checkpoint

MODELS = Path("data/06_models")
RAW = Path("data/01_raw/dataset.npz")
GENERATED = Path("data/07_model_output/regnet_inputs_test.npz")


def _untrained_models(folder: Path) -> dict[str, Path]:
    """Untrained models of the conf/base sizes (throughput only)."""
    conf = Path("conf/base")
    lift = yaml.safe_load((conf / "parameters_liftnet.yml").read_text())["liftnet"]["model"]
    reg = yaml.safe_load((conf / "parameters_regnet.yml").read_text())
    regnet_model = {k: tuple(v) if isinstance(v, list) else v
                    for k, v in reg["regnet"]["model"].items()}  # fmt: skip
    crop = yaml.safe_load((conf / "parameters_ingestion.yml").read_text())["render"]
    models = {
        "liftnet": LiftNet(
            LiftNetConfig(width=lift["width"], blocks=lift["blocks"]), np.full(16, 0.25)
        ),
        "regnet": RegNet(RegNetConfig(**regnet_model), np.full(16, 0.25)),
        "localizer": Localizer(LocalizerConfig(image_size=crop["size"])),
    }
    paths = {}
    for name, model in models.items():
        paths[name] = folder / f"{name}.pt"
        save_checkpoint(to_artifact(model, name), paths[name])
    return paths


def _frames(videos: int) -> tuple[dict, np.ndarray, dict | None]:
    """(raw dataset, its rows to render, the chain's generated inputs of those rows or None)."""
    if RAW.is_file() and GENERATED.is_file():
        raw = dict(np.load(RAW))
        gen = dict(np.load(GENERATED))
        keys = video_keys(gen)
        chosen = np.random.default_rng(0).choice(np.unique(keys), videos, replace=False)
        rows = np.flatnonzero(np.isin(keys, chosen))
        return raw, gen["sample_id"][rows], {k: v[rows] for k, v in gen.items()}
    raw = generate_synthetic(SyntheticConfig(seed=0, subjects=("S9",), frames_per_sequence=36))
    keys = video_keys(raw)
    chosen = np.unique(keys)[:videos]
    return raw, np.flatnonzero(np.isin(keys, chosen) & (raw["frame"] % 4 == 0)), None


def _write_images(raw: dict, ids: np.ndarray, folder: Path) -> list[Path]:
    config = RendererConfig(size=int(raw["image_size"][ids].max()), seed=2024, batch_size=8)
    images, _ = render_dataset(raw, ids, config)
    keys = video_keys({k: v[ids] for k, v in raw.items()})
    paths = []
    for i, (key, image) in enumerate(zip(keys, images, strict=True)):
        video = folder / "".join(c if c.isalnum() else "_" for c in str(key))
        video.mkdir(parents=True, exist_ok=True)
        paths.append(video / f"frame_{i:06d}.png")
        Image.fromarray(image).save(paths[-1])
    return paths


def _accuracy(out: Path, paths: list[Path], gen: dict, liftnet: Path) -> None:
    order = np.argsort([str(p) for p in paths])  # predict reads folders in sorted order
    truth = gen["pose3d_cam"][order]
    ours = pose_metrics(np.load(out / "predictions.npz")["pose3d"], truth)
    chain = pose_metrics(predict_poses(load_liftnet(liftnet), lift_tensors(gen))[order], truth)
    print(f"accuracy on these frames: predict PA-MPJPE {ours['pa_mpjpe']:.1f} mm, MPJPE "
          f"{ours['mpjpe']:.1f}; the chain's liftnet_regnet {chain['pa_mpjpe']:.1f} / "
          f"{chain['mpjpe']:.1f}")  # fmt: skip


def _flagged(out: Path) -> None:
    arrays = np.load(out / "predictions.npz")
    flags, score = arrays["out_of_domain"], arrays["domain_score"]
    threshold = json.loads((out / "predictions.json").read_text())["domain_threshold"]
    print(f"out of RegNet's domain: {int(flags.sum())} of {len(flags)} rendered images "
          f"({100 * flags.mean():.1f} %; domain score > {threshold:.3g}, median "
          f"{np.median(score):.3f}, max {score.max():.3f})")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--videos", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        raw, ids, gen = _frames(args.videos)
        paths = _write_images(raw, ids, folder / "frames")
        models = {n: MODELS / f"{n}.pt" for n in ("liftnet", "regnet", "localizer")}
        if not all(p.is_file() for p in models.values()):
            models, gen = _untrained_models(folder), None
        folders = sorted({str(p.parent) for p in paths})
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            summary = predict(folders, folder / "out", same_camera=True, **models)
            times.append(time.perf_counter() - start)
        rate = summary["lifted"] / min(times)
        print(
            f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
            f"torch threads {torch.get_num_threads()}; models {models['regnet'].parent}"
        )
        print(
            f"{summary['lifted']} images of {int(raw['image_size'][ids].max())} px in "
            f"{len(folders)} folders: best of {args.repeats} {min(times):.1f} s, "
            f"{rate:.1f} images/s (decode, localise, crop, RegNet, LiftNet, write)"
        )
        _flagged(folder / "out")
        if gen is not None:
            _accuracy(folder / "out", paths, gen, models["liftnet"])


if __name__ == "__main__":
    main()
