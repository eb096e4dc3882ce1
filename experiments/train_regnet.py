"""Train RegNet alone (conf/base ``regnet`` + overrides) on the model-input splits and crops
already built (``data/``), and print its validation figures per epoch, with the elevation and
focal errors split by camera type (rig / wild) after the last epoch.

It runs the pipeline's own training function on the pipeline's own inputs, never writes the
default run's model or checkpoints, so the only differences from the default RegNet are the
overrides given here. Used for the RegNet measurements in docs/METHOD.md.

Usage: python experiments/train_regnet.py [--set loop.batch_size=32 --set loop.lr=2.0e-3 ...]
    [--data data] [--threads 2] [--crop-size 96] [--teacher data/06_models/liftnet.pt]
    [--out result.json]

With ``regnet.losses.teacher`` on (the default), RegNet's elevation learns from the pipeline's
elevation teacher (``06_models/elevation_teacher.pt``) or the LiftNet given by ``--teacher``,
on each training frame's 2D labels (docs/METHOD.md, "RegNet's elevation"); ``--set
losses.teacher=0`` trains without. ``--crop-size`` reads the rendered crops resized (area) to
that size: a stand-in for rendering them at it (render.crop_size), without re-running ingestion.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from epoch_kedro.data.images import ImageSet
from epoch_kedro.evaluation.evaluate import camera_types
from epoch_kedro.inference.regnet import predict_regnet
from epoch_kedro.models.artifacts import flow_from_artifact
from epoch_kedro.pipelines.regnet.nodes import teacher_elevation
from epoch_kedro.training import regnet as training
from epoch_kedro.training.run import run_settings
from epoch_kedro.utils.checkpoint import load_checkpoint
from epoch_kedro.utils.config import deep_merge


def _load(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=True) as arrays:
        return {k: arrays[k] for k in arrays.files}


def _override(pairs: list[str]) -> dict:
    """``a.b=v`` pairs -> a nested dict (values read as YAML: numbers, booleans, lists)."""
    out: dict = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--set {pair}: expected key=value, e.g. loop.batch_size=32")
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(value)
    return out


def _camera_by_type(model, val: dict, crops: ImageSet, config) -> dict:
    """Median elevation (deg) and focal relative errors on the validation frames, per type."""
    rows, images, boxes, frames = training.validation_set(val, crops, config)
    pred = predict_regnet(model, images, boxes, val["image_size"][rows], frames=frames,
                          precision=config.loop.precision)  # fmt: skip
    elevation = np.rad2deg(np.arcsin(np.clip(pred["gravity"][:, 2], -1, 1)))
    truth = np.rad2deg(val["elevation"][rows])
    focal = pred["K"][:, 0, 0] / val["image_size"][rows, 0]
    focal_gt = val["K"][rows, 0, 0] / val["image_size"][rows, 0]
    kinds = camera_types(val)[rows]
    out = {}
    for kind in ("rig", "wild"):
        pick = kinds == kind
        out[kind] = {
            "frames": int(pick.sum()),
            "elevation_err_deg": float(np.median(np.abs(elevation - truth)[pick])),
            "elevation_sd_deg": float(elevation[pick].std()),
            "elevation_corr": float(np.corrcoef(elevation[pick], truth[pick])[0, 1]),
            "focal_rel_err": float(np.median((np.abs(focal - focal_gt) / focal_gt)[pick])),
        }
    return out


def _resized(crops: np.ndarray, size: int) -> np.ndarray:
    """``(N, S, S, 3)`` uint8 crops resized to ``size`` (area interpolation), in chunks."""
    out = np.empty((len(crops), size, size, 3), np.uint8)
    for i in range(0, len(crops), 1024):
        x = torch.as_tensor(np.asarray(crops[i : i + 1024])).permute(0, 3, 1, 2).float()
        x = torch.nn.functional.interpolate(x, size=(size, size), mode="area")
        out[i : i + 1024] = x.round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--data", type=Path, default=Path("data"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--crop-size", type=int)
    parser.add_argument("--teacher", type=Path, metavar="LIFTNET.pt")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    conf = yaml.safe_load(Path("conf/base/parameters_regnet.yml").read_text())["regnet"]
    params = deep_merge(conf, _override(args.set))
    if args.crop_size:
        params = deep_merge(params, {"model": {"image_size": args.crop_size}})
    # Our own checkpoint folder: never resume from (or overwrite) the default run's.
    params = {**params, "resume": False, "torch_threads": args.threads,
              "checkpoint_dir": tempfile.mkdtemp(prefix="regnet-exp-")}  # fmt: skip
    model_params, _ = run_settings(params)
    config = training.training_config(model_params)
    root = args.data
    train, val = _load(root / "05_model_input/train.npz"), _load(root / "05_model_input/val.npz")
    crop_images = np.load(root / "02_intermediate/crops.npy", mmap_mode="r")
    if args.crop_size:
        crop_images = _resized(crop_images, args.crop_size)
    crops = ImageSet(
        crop_images,
        _load(root / "02_intermediate/crop_index.npz"),
        ImageSet(np.load(root / "02_intermediate/images.npy", mmap_mode="r"),
                 _load(root / "02_intermediate/image_index.npz")),
    )  # fmt: skip
    flow = flow_from_artifact(load_checkpoint(root / "06_models/flow.pt"))
    bone_mean = _load(root / "04_feature/statistics.npz")["bone_length_mean"]
    if config.losses.teacher:
        teacher = load_checkpoint(args.teacher or root / "06_models/elevation_teacher.pt")
        train = {**train, training.TEACHER_FIELD: teacher_elevation(teacher, train, config)}
    start = time.perf_counter()
    model, result = training.train_regnet(train, val, crops, bone_mean, flow, config)
    seconds = time.perf_counter() - start
    by_type = _camera_by_type(model, val, training.checked_crops(crops, config), config)
    out = {"set": args.set, "seconds": round(seconds, 1), "history": result.history,
           "by_camera_type": by_type}  # fmt: skip
    for epoch in result.history:
        print({k: round(v, 3) if isinstance(v, float) else v for k, v in epoch.items()
               if k.startswith("val_") or k in ("epoch", "teacher", "flow")})  # fmt: skip
    print(json.dumps(by_type, indent=1), f"\n{seconds:.0f} s")
    if args.out:
        args.out.write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
