"""Localiser training: 2D keypoints on the low-resolution full frame (the only label)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import torch

from epoch_kedro.data.images import ImageSet, image_rows
from epoch_kedro.evaluation.metrics import keypoint_errors_2d
from epoch_kedro.inference.regnet import (
    localize,
    prepare_images,
    to_frame_pixels,
    to_resized_pixels,
)
from epoch_kedro.models.backbone import heatmap_nll
from epoch_kedro.models.localizer import Localizer, LocalizerConfig
from epoch_kedro.training.loop import FitResult, Gather, LoopConfig, fit
from epoch_kedro.training.regnet import (
    check_image_size,
    colour_gain,
    flip,
    masked_l1,
    validation_rows,
)
from epoch_kedro.utils.config import from_params
from epoch_kedro.utils.runtime import seed_everything


@dataclass(frozen=True)
class FrameAugment:
    """Augmentation of full frames (labels follow the image)."""

    flip: float = 0.5  # probability of a horizontal flip (left/right joints swap)
    colour: float = 0.2  # per-channel gain jitter
    shift: float = 0.06  # maximal translation, fraction of the image size


@dataclass(frozen=True)
class LocalizerTrainingConfig:
    """Everything ``train_localizer`` needs (the ``localizer`` parameter group)."""

    model: LocalizerConfig = field(default_factory=LocalizerConfig)
    loop: LoopConfig = field(default_factory=LoopConfig)
    augment: FrameAugment = field(default_factory=FrameAugment)
    heatmap_weight: float = 0.1  # the heatmaps' pull towards the labels (heatmap_nll)
    validation_samples: int = 1024


def training_config(params: dict) -> LocalizerTrainingConfig:
    """``LocalizerTrainingConfig`` from the ``localizer`` parameter group."""
    return from_params(LocalizerTrainingConfig, params, "localizer")


def frame_tensors(
    split: dict[str, np.ndarray], frames: ImageSet
) -> dict[str, torch.Tensor | Gather]:
    """The localiser's training inputs: resized frames (read batch by batch, as
    :class:`~epoch_kedro.training.loop.Gather`) and 2D labels in their pixels."""
    rows, img_rows = image_rows(split, frames.index)
    kp = to_resized_pixels(
        split["kp2d_observed"][rows], split["image_size"][rows], frames.images.shape[1]
    )
    return {
        "image": Gather.of(frames.images, img_rows),
        "kp2d": torch.as_tensor(kp, dtype=torch.float32),
        "visible": torch.as_tensor(split["visible"][rows]),
    }


def shift_image(image: torch.Tensor, dx: int, dy: int, margin: int) -> torch.Tensor:
    """Translate ``(B, C, S, S)`` by ``(dx, dy)`` pixels; edge pixels fill what moves in.

    Replicating the border (rather than wrapping content around) keeps the frame a plausible
    camera image: a wrapped floor or body part would be a false perspective cue.
    """
    size = image.shape[-1]
    padded = torch.nn.functional.pad(image, (margin,) * 4, mode="replicate")
    return padded[..., margin - dy : margin - dy + size, margin - dx : margin - dx + size]


def augment(batch: dict, generator: torch.Generator, config: FrameAugment) -> dict:
    """Flip, colour gain and one random translation per batch."""
    image = prepare_images(batch["image"])
    size = image.shape[-1]
    width = torch.full((len(image),), float(size), device=image.device)
    batch = flip({**batch, "image": image}, width, generator, config.flip)
    image, kp = colour_gain(batch["image"], generator, config.colour), batch["kp2d"]
    max_shift = round(config.shift * size)
    if max_shift:
        dx, dy = (
            int(v) for v in torch.randint(-max_shift, max_shift + 1, (2,), generator=generator)
        )
        image = shift_image(image, dx, dy, max_shift)
        kp = kp + torch.tensor([dx, dy], dtype=kp.dtype, device=kp.device)
    return {**batch, "image": image, "kp2d": kp}


def train_localizer(
    train: dict[str, np.ndarray],
    val: dict[str, np.ndarray],
    frames: ImageSet,
    config: LocalizerTrainingConfig,
    checkpoint=None,
    resume: bool = False,
) -> tuple[Localizer, FitResult]:
    """Train the localiser on the training split's resized full frames (2D labels only)."""
    seed_everything(config.loop.seed)
    check_image_size(frames, config.model.image_size, "localizer.model.image_size", "render.size")
    size = config.model.image_size
    model = Localizer(config.model).to(memory_format=torch.channels_last)
    train_t = frame_tensors(train, frames)
    val_rows, val_img = validation_rows(
        val, frames.index, config.validation_samples, config.loop.seed
    )
    val_frames = np.ascontiguousarray(frames.images[val_img])
    val_size = val["image_size"][val_rows]

    def loss_fn(model, batch, generator):
        batch = augment(batch, generator, config.augment)
        pred, heatmap = model(batch["image"])
        terms = {"kp2d": masked_l1(pred, batch["kp2d"], batch["visible"], size)}
        if config.heatmap_weight:
            terms["heatmap"] = heatmap_nll(heatmap, batch["kp2d"], batch["visible"], size)
        terms["total"] = terms["kp2d"] + config.heatmap_weight * terms.get("heatmap", 0.0)
        return terms

    def validate_fn(model):
        kp = localize(model, val_frames, precision=config.loop.precision)
        kp = to_frame_pixels(kp, val_size, size)
        diagonal = np.linalg.norm(val_size.astype(np.float64), axis=-1)
        px, pck = keypoint_errors_2d(
            kp, val["kp2d_observed"][val_rows], val["visible"][val_rows], diagonal
        )
        return {"px_error": px, "pck2d_005": pck}

    meta = {"name": "localizer", "model": config.model.to_dict(), "samples": len(train_t["image"])}
    loop = replace(config.loop, monitor="px_error")
    result = fit(
        model, train_t, loss_fn, validate_fn, loop, checkpoint=checkpoint, resume=resume, meta=meta
    )
    model.load_state_dict(result.best_state)
    return model.eval().cpu(), result
