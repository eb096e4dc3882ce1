"""RegNet and localiser throughput: training images/s and inference images/s.

RegNet trains on person crops (``render_crops`` at jittered label boxes, as ingestion cuts
them) through ``regnet_tensors``: augmentation, forward, 2D + heatmap + prior + flow losses,
backward, gradient clipping, step. Its inference is ``predict_regnet``. The localiser
(default ``LocalizerConfig``) trains on 64 px full frames as ``train_localizer`` does; its
inference is ``localize``. CUDA when available, else the CPU (the same code), channels-last.

``--precision auto`` uses bf16 autocast where the device has native bf16 (``native_bf16``: CUDA
with bf16 tensor cores, or a CPU with AVX512-BF16/AMX); ``--precision bf16`` forces it, even
where it is emulated. (The training loop's ``precision: auto`` goes further and times both, see
``bench_precision.py``.) Autocast is the project's ``utils.precision.autocast``, around
training steps and inference alike.

``--profile paper`` builds RegNet as ``conf/paper`` does (its ``regnet.model`` over the
default's: 128 px crops, five stages, two blocks each, stem stride 2, 1024 hidden): the GPU
profile; ``--size`` and ``--stem-stride`` then come from that profile. ``--memory-format
contiguous`` measures without channels-last.

Usage: python benchmarks/bench_regnet.py [--size 128] [--precision auto] [--stem-stride 4]
    [--batch 64] [--steps 20] [--images 1024] [--profile base|paper]
    [--memory-format channels_last|contiguous]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import yaml
from torch import nn

from epoch_kedro.data.boxes import BoxConfig, boxes_from_keypoints, jitter_boxes
from epoch_kedro.data.images import ImageSet
from epoch_kedro.data.normalize import dataset_statistics, to_model_input
from epoch_kedro.data.synthetic import SyntheticConfig, generate_synthetic
from epoch_kedro.data.synthetic.render import RendererConfig, render_crops, render_dataset
from epoch_kedro.inference.regnet import localize, predict_regnet
from epoch_kedro.models.backbone import heatmap_nll
from epoch_kedro.models.flow import FlowConfig, PoseFlow
from epoch_kedro.models.localizer import Localizer
from epoch_kedro.models.regnet import RegNet, RegNetConfig
from epoch_kedro.training import localizer as L
from epoch_kedro.training import regnet as T
from epoch_kedro.training.loop import LoopConfig
from epoch_kedro.utils.config import deep_merge, from_params
from epoch_kedro.utils.precision import autocast, native_bf16
from epoch_kedro.utils.runtime import pick_device

CONF = Path(__file__).resolve().parents[1] / "conf"


def profile_config(profile: str) -> RegNetConfig:
    """RegNet's architecture as ``conf/<profile>`` sets it (over ``conf/base``)."""
    model: dict = {}
    for env in dict.fromkeys(("base", profile)):
        params = yaml.safe_load((CONF / env / "parameters_regnet.yml").read_text()) or {}
        model = deep_merge(model, (params.get("regnet") or {}).get("model") or {})
    return from_params(RegNetConfig, model, "regnet.model")


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def train_rate(
    model: nn.Module,
    data: dict[str, torch.Tensor],
    loss_fn: Callable[[dict, torch.Generator], dict[str, torch.Tensor]],
    args: argparse.Namespace,
    device: torch.device,
    bf16: bool,
) -> float:
    """Training images/s over ``args.steps`` steps of ``args.batch`` (after one warm-up step)."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(0)
    n = len(data["image"])
    grad_clip = LoopConfig().grad_clip
    model.train()

    def step(i: int) -> None:
        idx = (torch.arange(i * args.batch, (i + 1) * args.batch) % n).to(device)
        batch = {k: v[idx] for k, v in data.items()}
        with autocast(device, bf16):
            terms = loss_fn(batch, generator)
        optimizer.zero_grad(set_to_none=True)
        terms["total"].backward()
        nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()

    step(0)
    sync(device)
    start = time.perf_counter()
    for i in range(args.steps):
        step(i + 1)
    sync(device)
    return args.steps * args.batch / (time.perf_counter() - start)


def infer_rate(run: Callable[[int], object], count: int, device: torch.device, bf16: bool) -> float:
    """Inference images/s of ``run(count)`` (the first ``count`` images), after a warm-up."""
    with autocast(device, bf16):
        run(min(count, 256))
        sync(device)
        start = time.perf_counter()
        run(count)
        sync(device)
    return count / (time.perf_counter() - start)


def millions(model: nn.Module) -> float:
    return sum(p.numel() for p in model.parameters()) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=128, help="crop size (render.crop_size)")
    parser.add_argument("--precision", choices=("fp32", "bf16", "auto"), default="auto")
    parser.add_argument("--stem-stride", type=int, default=4, choices=(2, 4))
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--images", type=int, default=1024, help="crops and frames rendered")
    parser.add_argument(
        "--profile",
        choices=("base", "paper"),
        default=None,
        help="RegNet's architecture from conf/<profile> (default: --size/--stem-stride)",
    )
    parser.add_argument(
        "--memory-format", choices=("channels_last", "contiguous"), default="channels_last"
    )
    args = parser.parse_args()
    config = (
        profile_config(args.profile)
        if args.profile
        else RegNetConfig(image_size=args.size, stem_stride=args.stem_stride, fine_heatmaps=True)
    )
    args.size, args.stem_stride = config.image_size, config.stem_stride
    memory_format = getattr(torch, args.memory_format.replace("contiguous", "contiguous_format"))
    os.environ.setdefault("EPOCH_PROGRESS", "0")
    device = pick_device()
    supported = native_bf16(device)
    bf16 = args.precision == "bf16" or (args.precision == "auto" and supported)
    precision = (
        f"{'bf16 autocast' if bf16 else 'fp32'} (--precision {args.precision}; "
        f"native bf16: {'yes' if supported else 'no, emulated'})"
    )
    fixed = "bf16" if bf16 else "fp32"  # inference in the same fixed precision, no probe

    data = generate_synthetic(dataclasses.replace(SyntheticConfig(seed=0), subjects=("S1",)))
    data["sample_id"] = np.arange(len(data["kp2d"]))
    split = to_model_input(data)
    stats = dataset_statistics(split)
    stride = max(len(data["kp2d"]) // args.images, 1)
    rows = np.arange(0, len(data["kp2d"]), stride)[: args.images]  # ascending sample ids
    image_size = split["image_size"][rows]

    # RegNet: crops at the label boxes, jittered as ingestion's training crops are.
    box_config, render_config = BoxConfig(), RendererConfig(size=args.size)
    labels = boxes_from_keypoints(data["kp2d"][rows], data["visible"][rows], box_config)
    boxes = jitter_boxes(labels, rows, render_config.seed, box_config)
    crops = render_crops(data, rows, boxes, render_config)
    crop_set = ImageSet(crops, {"sample_id": rows, "box": boxes.astype(np.float32)})
    regnet_data = {k: v[:].to(device) for k, v in T.regnet_tensors(split, crop_set).items()}
    model = RegNet(config, stats["bone_length_mean"])
    model = model.to(device).to(memory_format=memory_format)
    flow = PoseFlow(
        FlowConfig(), stats["pose2d_mean"], stats["pca_components"], stats["pca_variance"]
    )
    flow = T.freeze(flow.to(device))
    weights, augment = T.RegNetLossWeights(), T.AugmentConfig()

    def regnet_loss(batch, generator):
        batch = T.augment(batch, generator, augment)
        return T.regnet_terms(model, flow, batch, generator, weights)

    regnet_train = train_rate(model, regnet_data, regnet_loss, args, device, bf16)
    regnet_infer = infer_rate(
        lambda n: predict_regnet(model, crops[:n], boxes[:n], image_size[:n], precision=fixed),
        len(crops),
        device,
        bf16,
    )

    # The localiser: default config, full frames at its image size.
    loc_config, frame_augment = L.LocalizerTrainingConfig(), L.FrameAugment()
    loc_size = loc_config.model.image_size
    frames, _ = render_dataset(data, rows, RendererConfig(size=loc_size))
    frame_set = ImageSet(frames, {"sample_id": rows})
    frame_data = {k: v[:].to(device) for k, v in L.frame_tensors(split, frame_set).items()}
    localizer = Localizer(loc_config.model).to(device).to(memory_format=memory_format)

    def localizer_loss(batch, generator):
        batch = L.augment(batch, generator, frame_augment)
        pred, heatmap = localizer(batch["image"])
        kp2d = T.masked_l1(pred, batch["kp2d"], batch["visible"], loc_size)
        heat = heatmap_nll(heatmap, batch["kp2d"], batch["visible"], loc_size)
        return {"total": kp2d + loc_config.heatmap_weight * heat}

    loc_train = train_rate(localizer, frame_data, localizer_loss, args, device, bf16)
    loc_infer = infer_rate(
        lambda n: localize(localizer, frames[:n], precision=fixed), len(frames), device, bf16
    )

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(
        f"device: {device} ({name}), torch {torch.__version__}, threads: "
        f"{torch.get_num_threads()}, precision: {precision}, memory format: {args.memory_format}"
    )
    print(
        f"RegNet [{args.profile or 'custom'}] ({millions(model):.2f} M parameters, "
        f"{args.size} px crops, widths {list(config.widths)} x {config.blocks} blocks, "
        f"stem stride {args.stem_stride}): training {regnet_train:,.0f} images/s "
        f"(batch {args.batch}, {args.steps} steps; flow prior {millions(flow):.2f} M, frozen), "
        f"inference {regnet_infer:,.0f} images/s ({len(crops)} crops)"
    )
    print(
        f"Localiser ({millions(localizer):.2f} M parameters, {loc_size} px full frames): "
        f"training {loc_train:,.0f} images/s (batch {args.batch}, {args.steps} steps), "
        f"inference {loc_infer:,.0f} images/s ({len(frames)} frames)"
    )


if __name__ == "__main__":
    main()
