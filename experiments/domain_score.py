"""Measure RegNet's out-of-domain scores on rendered and on real frames; derive the threshold.

For each image the image path of ``epoch-kedro predict`` (localiser -> box -> one refine pass
-> flip test, :mod:`epoch_kedro.inference.images`) is run, and these per-image candidates are
computed (lengths as fractions of the side of the box RegNet read last):

- ``flip``: median over joints of the flip test's disagreement (the crop vs its mirror image);
  ``flip_mean``: the same, mean over joints;
- ``scale``: median disagreement of the 2D read from the crop and from a 25 % wider one;
- ``branches``: median disagreement of RegNet's two 2D heads (heatmaps vs projected 3D);
- ``localiser``: median disagreement of the localiser's 2D and RegNet's;
- ``spread``: median over joints of the heatmaps' spatial standard deviation;
  ``entropy``: their mean normalised entropy; ``peak``: minus their mean peak probability;
- ``bn``: how far the inputs of RegNet's BatchNorm layers sit from the running statistics
  stored at training time (squared z of the channel means + squared log variance ratio);
- ``score``: what predict writes, from predict's own code path
  (:func:`epoch_kedro.inference.regnet.domain_score`: the geometric mean of flip and spread).

Shares flagged are given at the threshold stored in the RegNet artifact (calibrated when it was
trained; ``experiments/calibrate_domain.py`` adds it to an older one) and at the old constant.

Rendered frames: the chain's rendered frames (``data/07_model_output/regnet_inputs_*.npz``) of
``--val-videos`` random videos of the validation split (training-domain frames the weights
never saw) and of ``--test-videos`` of the test split (the selection of
``benchmarks/bench_predict_images.py``), rendered again at their full 1000 px. On these, RegNet's
2D error is known (``error``: median over joints, fraction of the box side).

The threshold rule (computed on rendered validation frames only, never on real ones): the
``--percentile`` of ``score`` over the validation frames that RegNet reads correctly (``error``
below ``--tolerance``). Frames it misreads are not the reference: flagging them is right.

Real frames: the folders given (``experiments/devset_frames.py`` writes them).

Usage: python experiments/domain_score.py [REAL_FOLDER ...] [--models data/06_models]
    [--data data] [--val-videos 150] [--test-videos 30] [--every 1] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from epoch_kedro.api import load_localizer, load_regnet
from epoch_kedro.chain import video_keys
from epoch_kedro.data.boxes import DEFAULT_BOX, boxes_from_keypoints
from epoch_kedro.data.image_files import IMAGE_SUFFIXES, cut_crop, open_rgb, resize_frame
from epoch_kedro.data.synthetic.render import RendererConfig, render_dataset
from epoch_kedro.inference.images import ImageSettings, _batch_estimates
from epoch_kedro.inference.regnet import (
    DOMAIN_THRESHOLD,
    domain_threshold,
    heatmap_spread,
    mirror,
    predict_regnet,
    prepare_images,
    to_frame_pixels,
    unmirror_keypoints,
)

PERCENTILES = (1, 5, 50, 95, 99)


class BatchNormShift:
    """Per image, how far each BatchNorm layer's input statistics sit from the running ones
    stored at training time, averaged over channels and layers."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.layers = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
        self.shifts: list[torch.Tensor] = []

    def _hook(self, layer, inputs, _output) -> None:
        x = inputs[0].float()
        z = (x.mean((2, 3)) - layer.running_mean) / (layer.running_var + layer.eps).sqrt()
        ratio = (x.var((2, 3)) + layer.eps) / (layer.running_var + layer.eps)
        self.shifts.append((z**2 + ratio.log() ** 2).mean(1))

    def __enter__(self) -> BatchNormShift:
        self.handles = [m.register_forward_hook(self._hook) for m in self.layers]
        return self

    def __exit__(self, *exc) -> None:
        for handle in self.handles:
            handle.remove()

    def score(self) -> np.ndarray:
        return torch.stack(self.shifts).mean(0).numpy()


def _heat_stats(prob: torch.Tensor) -> dict[str, np.ndarray]:
    """Per image: median spread over joints, mean normalised entropy, minus the mean peak."""
    flat = prob.float().flatten(2)
    entropy = -(flat * flat.clamp_min(1e-12).log()).sum(-1) / np.log(flat.shape[-1])
    return {
        "spread": heatmap_spread(prob).median(-1).values.numpy(),
        "entropy": entropy.mean(-1).numpy(),
        "peak": -flat.max(-1).values.mean(-1).numpy(),
    }


def _forward(model, crops: np.ndarray, boxes: np.ndarray, size: np.ndarray):
    with torch.inference_mode():
        return model.eval()(
            prepare_images(torch.as_tensor(crops)),
            torch.as_tensor(boxes, dtype=torch.float32),
            torch.as_tensor(size, dtype=torch.float32),
        )


def _median_gap(a: np.ndarray, b: np.ndarray, side: np.ndarray) -> np.ndarray:
    return np.median(np.linalg.norm(a - b, axis=-1), -1) / side


def candidates(images: list[Image.Image], localizer, regnet) -> dict[str, np.ndarray]:
    """Every candidate of each image (one refine pass, as predict runs), and the 2D used."""
    size = np.array([im.size for im in images], np.float64)
    s = localizer.config.image_size
    frames = np.stack([resize_frame(im, s) for im in images])
    with torch.inference_mode():
        loc = localizer.eval()(prepare_images(torch.as_tensor(frames)))[0].float().numpy()
    loc = to_frame_pixels(loc, size, s)
    n = regnet.config.image_size

    def crop(boxes):
        return np.stack([cut_crop(im, b, n) for im, b in zip(images, boxes, strict=True)])

    found = boxes_from_keypoints(loc, None, DEFAULT_BOX)
    first = predict_regnet(regnet, crop(found), found, size)
    boxes = boxes_from_keypoints(first["kp2d_heat"], None, DEFAULT_BOX)
    crops = crop(boxes)
    with BatchNormShift(regnet) as shift:
        out = _forward(regnet, crops, boxes, size)
    single, proj = out.kp2d_heat.float().numpy(), out.kp2d.float().numpy()
    mirrored, mboxes = mirror(crops, boxes, size)
    back = unmirror_keypoints(_forward(regnet, mirrored, mboxes, size).kp2d_heat.numpy(), size)
    wider = boxes * np.array([1.0, 1.0, 1.25])
    scaled = _forward(regnet, crop(wider), wider, size).kp2d_heat.float().numpy()
    gap = np.linalg.norm(single - back, axis=-1) / boxes[:, 2:3]
    est = _batch_estimates(images, localizer, regnet, ImageSettings())
    return {
        "flip": np.median(gap, -1),
        "flip_mean": gap.mean(-1),
        "scale": _median_gap(single, scaled, boxes[:, 2]),
        "branches": _median_gap(single, proj, boxes[:, 2]),
        "localiser": _median_gap(loc, 0.5 * (single + back), boxes[:, 2]),
        **_heat_stats(out.heatmap),
        "bn": shift.score(),
        "score": est["domain_score"],
        "kp2d": est["kp2d_heat"],
        "side": est["box"][:, 2],
    }


def scored(images: list[Image.Image], localizer, regnet, batch: int = 32) -> dict:
    parts = [candidates(images[i : i + batch], localizer, regnet)
             for i in range(0, len(images), batch)]  # fmt: skip
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def rendered(data: Path, split: str, videos: int, seed: int) -> tuple[list, np.ndarray]:
    """The chain's rendered frames of ``videos`` random videos of a split, rendered again at
    full resolution (the selection, renderer and seed of ``bench_predict_images.py``), and
    their true 2D in those pixels."""
    raw = dict(np.load(data / "01_raw/dataset.npz"))
    gen = np.load(data / f"07_model_output/regnet_inputs_{split}.npz")
    keys = video_keys({k: gen[k] for k in gen.files})
    chosen = np.random.default_rng(seed).choice(np.unique(keys), videos, replace=False)
    rows = gen["sample_id"][np.isin(keys, chosen)]
    config = RendererConfig(size=int(raw["image_size"][rows].max()), seed=2024, batch_size=8)
    images = [Image.fromarray(im) for im in render_dataset(raw, rows, config)[0]]
    scale = config.size / raw["image_size"][rows].astype(np.float64)
    return images, (raw["kp2d"][rows] + 0.5) * scale[:, None] - 0.5


def real(folders: list[Path], every: int) -> list[Image.Image]:
    paths = sorted(p for f in folders for p in f.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    return [open_rgb(p) for p in paths[::every]]


def report(name: str, scores: dict[str, np.ndarray], thresholds: dict[str, float]) -> dict:
    keys = [k for k in thresholds if k in scores]
    print(f"\n{name}: {len(scores['score'])} images")
    rows = {}
    for key in keys:
        pct = np.percentile(scores[key], PERCENTILES)
        flagged = float(np.mean(scores[key] > thresholds[key]))
        rows[key] = {"percentiles": pct.round(4).tolist(), "flagged": flagged}
        print(f"  {key:10s} p{PERCENTILES}: {np.array2string(pct, precision=4)}  "
              f"flagged {100 * flagged:5.1f} %")  # fmt: skip
    return rows


def _options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("real", nargs="*", type=Path, help="folders of real frames")
    parser.add_argument("--models", type=Path, default=Path("data/06_models"))
    parser.add_argument("--data", type=Path, default=Path("data"))
    parser.add_argument("--val-videos", type=int, default=150)
    parser.add_argument("--test-videos", type=int, default=30)
    parser.add_argument("--every", type=int, default=1, help="real frames: keep every n-th")
    parser.add_argument("--percentile", type=float, default=99.5)
    parser.add_argument("--tolerance", type=float, default=0.1, help="2D error / box side")
    parser.add_argument("--json", type=Path)
    return parser.parse_args()


def main() -> None:
    args = _options()
    torch.set_grad_enabled(False)
    localizer = load_localizer(args.models / "localizer.pt", "cpu")
    regnet = load_regnet(args.models / "regnet.pt", "cpu")
    scores = {}
    for name, split, videos, seed in (("val", "val", args.val_videos, 1),
                                      ("test", "test", args.test_videos, 0)):  # fmt: skip
        images, truth = rendered(args.data, split, videos, seed)
        scores[f"rendered {name}"] = s = scored(images, localizer, regnet)
        s["error"] = np.median(np.linalg.norm(s.pop("kp2d") - truth, axis=-1), -1) / s["side"]
    if args.real:
        scores["real"] = scored(real(args.real, args.every), localizer, regnet)
    val = scores["rendered val"]
    read = val["error"] < args.tolerance
    keys = [k for k in val if k not in ("kp2d", "side", "error")]
    thresholds = {k: float(np.percentile(val[k][read], args.percentile)) for k in keys}
    print(f"rendered val frames read correctly (2D error < {args.tolerance} box side): "
          f"{read.sum()} of {len(read)}; thresholds: p{args.percentile:g} of them")  # fmt: skip
    result = {
        "thresholds": thresholds,
        "read": int(read.sum()),
        "DOMAIN_THRESHOLD": DOMAIN_THRESHOLD,
    }
    result.update({name: report(name, s, thresholds) for name, s in scores.items()})
    # Both: the threshold this artifact stores (calibrated when trained) and the old constant.
    result["model_threshold"] = stored = domain_threshold(regnet)
    for name, s in scores.items():
        for label, t in (("the model's threshold", stored), ("DOMAIN_THRESHOLD", DOMAIN_THRESHOLD)):
            print(f"{name}: {100 * np.mean(s['score'] > t):.1f} % flagged at {label} {t:.4f}")
    if args.json:
        raw = {
            name: {k: v.tolist() for k, v in s.items() if v.ndim == 1} for name, s in scores.items()
        }
        args.json.write_text(json.dumps({**result, "scores": raw}))


if __name__ == "__main__":
    main()
