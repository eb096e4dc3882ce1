"""RegNet training: 2D keypoints are the only label; priors shape the 3D pose and the camera.

Per batch: predict pose, camera and 2D; losses are the visibility-masked L1 between predicted
and labelled 2D, the anatomical priors shared with LiftNet, the frozen 2D flow prior on a
randomly rotated virtual view of the predicted pose, and a weak focal-length prior.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from epoch_kedro.data.images import ImageSet, frames_of, image_rows
from epoch_kedro.evaluation.metrics import joint_errors, keypoint_errors_2d
from epoch_kedro.geometry import azimuth_rotation, crop_pixels, normalize_2d, project_normalized
from epoch_kedro.inference.regnet import calibrate_domain, predict_regnet, prepare_images
from epoch_kedro.models.backbone import heatmap_nll
from epoch_kedro.models.flow import PoseFlow
from epoch_kedro.models.regnet import RegNet, RegNetConfig, log_focal_ratio
from epoch_kedro.skeleton import FLIP_PERMUTATION
from epoch_kedro.training import losses
from epoch_kedro.training.loop import FitResult, Gather, LoopConfig, fit
from epoch_kedro.utils.config import from_params
from epoch_kedro.utils.runtime import seed_everything

#: What RegNet's loss sees: the crop, its box, the frame size (and the low-resolution frame
#: with a context) and the 2D keypoint labels. No 3D, no camera.
REGNET_INPUTS = ("image", "box", "image_size", "frame", "kp2d", "visible")
#: The training split's field holding the elevation teacher's targets (``losses.teacher``).
TEACHER_FIELD = "teacher_elevation"


@dataclass(frozen=True)
class RegNetLossWeights:
    """Weight of each term; 0 switches a term off."""

    kp2d: float = 1.0  # the 2D of the projected 3D pose and camera
    kp2d_heat: float = 1.0  # the integral-regression 2D
    heatmap: float = 0.1  # its heatmaps pulled towards the labels (heatmap_nll)
    symmetry: float = 0.1
    bone_ratio: float = 0.1
    bending: float = 0.1
    flow: float = 0.1
    focal_prior: float = 0.002
    teacher: float = 0.0  # elevation pulled towards a LiftNet's elevation head (L1, rad)


@dataclass(frozen=True)
class AugmentConfig:
    """Training-time augmentation of crops (labels and boxes follow the image)."""

    flip: float = 0.5  # probability of a horizontal flip (left/right joints swap)
    colour: float = 0.2  # per-channel gain jitter


@dataclass(frozen=True)
class RegNetTrainingConfig:
    """Everything ``train_regnet`` needs (the ``regnet`` parameter group)."""

    model: RegNetConfig = field(default_factory=RegNetConfig)
    loop: LoopConfig = field(default_factory=LoopConfig)
    losses: RegNetLossWeights = field(default_factory=RegNetLossWeights)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    validation_samples: int = 1024


def training_config(params: dict) -> RegNetTrainingConfig:
    """``RegNetTrainingConfig`` from the ``regnet`` parameter group (unknown keys rejected)."""
    return from_params(RegNetTrainingConfig, params, "regnet")


def regnet_tensors(
    split: dict[str, np.ndarray], crops: ImageSet
) -> dict[str, torch.Tensor | Gather]:
    """RegNet's training inputs of a split: uint8 crops (read batch by batch from the crops
    array, :class:`~epoch_kedro.training.loop.Gather`), boxes and 2D labels (frame pixels),
    and the crops' low-resolution full frames when they carry them (RegNet's context)."""
    rows, img_rows = image_rows(split, crops.index)
    extra = {}
    if crops.frames is not None:
        extra["frame"] = torch.as_tensor(np.ascontiguousarray(frames_of(split, rows, crops.frames)))
    return {
        **extra,
        "image": Gather.of(crops.images, img_rows),
        "box": torch.as_tensor(crops.index["box"][img_rows], dtype=torch.float32),
        "image_size": torch.as_tensor(split["image_size"][rows], dtype=torch.float32),
        "kp2d": torch.as_tensor(split["kp2d_observed"][rows], dtype=torch.float32),
        "visible": torch.as_tensor(split["visible"][rows]),
    }


def flip(batch: dict, width: torch.Tensor, generator: torch.Generator, p: float) -> dict:
    """Mirror a random share ``p`` of the batch; the 2D (left/right swapped) and box follow.

    ``width (B,)`` is the width of the frame the keypoints live in (the full frame for crops).
    """
    image, kp, vis = batch["image"], batch["kp2d"], batch["visible"]
    dev = image.device
    pick = (torch.rand(len(image), generator=generator) < p).to(dev)
    if not pick.any():
        return batch
    perm = torch.as_tensor(FLIP_PERMUTATION, device=dev)
    mirrored_kp = kp[:, perm].clone()
    mirrored_kp[..., 0] = width[:, None] - 1 - mirrored_kp[..., 0]
    out = {
        **batch,
        "image": torch.where(pick[:, None, None, None], image.flip(-1), image),
        **(
            {
                "frame": torch.where(
                    pick[:, None, None, None], batch["frame"].flip(-1), batch["frame"]
                )
            }
            if "frame" in batch
            else {}
        ),
        "kp2d": torch.where(pick[:, None, None], mirrored_kp, kp),
        "visible": torch.where(pick[:, None], vis[:, perm], vis),
    }
    if "box" in batch:
        box = batch["box"].clone()
        box[:, 0] = torch.where(pick, width - 1 - box[:, 0], box[:, 0])
        out["box"] = box
    return out


def colour_gain(
    image: torch.Tensor, generator: torch.Generator, amount: float, *also: torch.Tensor
) -> torch.Tensor | tuple[torch.Tensor, ...]:
    """A random per-channel gain in ``1 +- amount``; images in ``also`` get the same gains."""
    gain = 1 + amount * (2 * torch.rand(len(image), 3, 1, 1, generator=generator) - 1)
    out = tuple((x * gain.to(x.device)).clamp(0, 1) for x in (image, *also))
    return out if also else out[0]


def augment(batch: dict, generator: torch.Generator, config: AugmentConfig) -> dict:
    """Flip (left/right swap) and colour gain of crops; labels and boxes follow the image.

    Crops need no translation here: their boxes were jittered when they were cut.
    """
    batch = {**batch, "image": prepare_images(batch["image"])}
    if "frame" in batch:
        batch["frame"] = prepare_images(batch["frame"])
    batch = flip(batch, batch["image_size"][:, 0], generator, config.flip)
    if "frame" not in batch:
        return {**batch, "image": colour_gain(batch["image"], generator, config.colour)}
    image, frame = colour_gain(batch["image"], generator, config.colour, batch["frame"])
    return {**batch, "image": image, "frame": frame}


def masked_l1(pred: torch.Tensor, kp2d: torch.Tensor, visible: torch.Tensor, scale) -> torch.Tensor:
    """Visibility-masked L1 2D error in units of ``scale`` (the box side, or the image size)."""
    vis = visible.to(pred.dtype)
    err = (pred - kp2d).abs().sum(-1) / scale
    return (err * vis).sum() / vis.sum().clamp_min(1.0)


def regnet_terms(
    model: RegNet,
    flow: PoseFlow | None,
    batch: dict,
    generator: torch.Generator,
    weights: RegNetLossWeights,
) -> dict[str, torch.Tensor]:
    """Loss terms of one (already augmented) batch; 2D errors relative to the box side."""
    out = model(batch["image"], batch["box"], batch["image_size"], batch.get("frame"))
    side = batch["box"][:, 2:3]
    terms = {"kp2d": masked_l1(out.kp2d, batch["kp2d"], batch["visible"], side)}
    if weights.kp2d_heat:
        terms["kp2d_heat"] = masked_l1(out.kp2d_heat, batch["kp2d"], batch["visible"], side)
    if weights.heatmap:
        size = batch["image"].shape[-1]
        labels = crop_pixels(batch["kp2d"], batch["box"], size)
        # The same target width in pixels whatever the maps' resolution.
        sigma = 2.0 if model.config.fine_heatmaps else 1.0
        terms["heatmap"] = heatmap_nll(out.heatmap, labels, batch["visible"], size, sigma)
    if weights.symmetry:
        terms["symmetry"] = losses.bone_symmetry(out.pose_body)
    if weights.bone_ratio:
        terms["bone_ratio"] = losses.bone_ratio(out.pose_body, model.bone_mean)
    if weights.bending:
        terms["bending"] = losses.bending_limits(out.pose_cam, -out.gravity)
    if weights.flow and flow is not None:
        terms["flow"] = _virtual_view_nll(out, flow, generator)
    if weights.focal_prior:
        prior = math.log(model.config.focal_prior)
        ratio = log_focal_ratio(out.K, batch["image_size"][:, 0])
        terms["focal_prior"] = ((ratio - prior) ** 2).mean()
    if weights.teacher:
        elevation = torch.asin(out.gravity[:, 2].clamp(-1, 1))
        terms["teacher"] = (elevation - batch["teacher"].to(elevation)).abs().mean()
    terms["total"] = sum(getattr(weights, name) * value for name, value in terms.items())
    return terms


def _virtual_view_nll(out, flow: PoseFlow, generator: torch.Generator) -> torch.Tensor:
    """Flow NLL of the predicted body turned about its vertical axis by a random azimuth."""
    like = out.pose_body
    azimuth = (torch.rand(len(like), generator=generator) * 2 - 1).to(like) * math.pi
    turned = out.pose_body @ azimuth_rotation(azimuth).transpose(-1, -2).to(like)
    virtual = turned @ out.R.transpose(-1, -2) + out.t[:, None]
    virtual = torch.cat([virtual[..., :2], virtual[..., 2:].clamp_min(0.05)], -1)
    pose2d, _ = normalize_2d(project_normalized(virtual))
    return losses.flow_nll(flow, pose2d)


def camera_metrics(pred: dict, split: dict, rows: np.ndarray) -> dict[str, float]:
    """2D error (frame px; integral and projected 2D), PCK@0.05, focal and elevation errors."""
    kp_gt = split["kp2d_observed"][rows]
    vis = split["visible"][rows]
    size = split["image_size"][rows].astype(np.float64)
    diagonal = np.linalg.norm(size, axis=-1)
    px_error, pck = keypoint_errors_2d(pred["kp2d_heat"], kp_gt, vis, diagonal)
    px_projected, _ = keypoint_errors_2d(pred["kp2d"], kp_gt, vis, diagonal)
    focal_gt = split["K"][rows, 0, 0] / size[:, 0]
    focal = pred["K"][:, 0, 0] / size[:, 0]
    elevation = np.arcsin(np.clip(pred["gravity"][:, 2], -1, 1))
    return {
        "px_error": px_error,
        "px_error_projected": px_projected,
        "pck2d_005": pck,
        "focal_rel_err": float(np.median(np.abs(focal - focal_gt) / focal_gt)),
        "elevation_err_deg": float(
            np.median(np.rad2deg(np.abs(elevation - split["elevation"][rows])))
        ),
        "pa_mpjpe": float(
            joint_errors(pred["pose_cam"], split["pose3d_cam"][rows], "procrustes").mean()
        ),
    }


def validation_rows(split: dict, index: dict, count: int, seed: int) -> tuple:
    """A fixed random subset of at most ``count`` split rows with images (sorted)."""
    rows, img_rows = image_rows(split, index)
    keep = np.sort(np.random.default_rng(seed).permutation(len(rows))[:count])
    return rows[keep], img_rows[keep]


def check_image_size(images: ImageSet, expected: int, parameter: str, source: str) -> None:
    """One clear line when the images are not the size the network is configured for."""
    size = images.images.shape[1]
    if size != expected:
        raise ValueError(
            f"images are {size} px but {parameter} is {expected}; set it to {source} ({size})"
        )


def freeze(flow: PoseFlow | None) -> PoseFlow | None:
    """The flow prior in eval mode with no gradients (a fixed prior, not a trained part)."""
    if flow is not None:
        flow = flow.eval()
        for p in flow.parameters():
            p.requires_grad_(False)
    return flow


def checked_crops(crops: ImageSet, config: RegNetTrainingConfig) -> ImageSet:
    """The crops, checked against the model's sizes, with the full frames only where RegNet
    reads them (a context)."""
    check_image_size(crops, config.model.image_size, "regnet.model.image_size", "render.crop_size")
    if not config.model.context_widths:
        return replace(crops, frames=None)
    if crops.frames is None:
        raise ValueError("regnet.model.context_widths is set but no full frames were given")
    check_image_size(
        crops.frames, config.model.context_size, "regnet.model.context_size", "render.size"
    )
    return crops


def validation_set(val: dict, crops: ImageSet, config: RegNetTrainingConfig) -> tuple:
    """RegNet's validation frames (:func:`validation_rows`): split rows, crops, boxes and the
    context frames (None without a context) of :func:`checked_crops`' ``crops``."""
    rows, img = validation_rows(val, crops.index, config.validation_samples, config.loop.seed)
    frames = None if crops.frames is None else frames_of(val, rows, crops.frames)
    return rows, np.ascontiguousarray(crops.images[img]), crops.index["box"][img], frames


def domain_calibration(
    model: RegNet, val: dict, crops: ImageSet, config: RegNetTrainingConfig
) -> dict:
    """The trained RegNet's out-of-domain threshold, calibrated on its validation frames (the
    ``"domain"`` of its artifact; :func:`~epoch_kedro.inference.regnet.calibrate_domain`)."""
    rows, images, boxes, frames = validation_set(val, checked_crops(crops, config), config)
    return calibrate_domain(model, images, boxes, val["image_size"][rows],
                            val["kp2d_observed"][rows], val["visible"][rows], frames)  # fmt: skip


def teacher_targets(
    split: dict, crops: ImageSet, config: RegNetTrainingConfig
) -> dict[str, torch.Tensor]:
    """``{"teacher": elevation per training crop}`` when ``losses.teacher`` is on, else ``{}``."""
    if not config.losses.teacher:
        return {}
    n = len(split["kp2d_observed"])
    teacher = split.get(TEACHER_FIELD)
    if teacher is None or np.shape(teacher) != (n,) or not np.all(np.isfinite(teacher)):
        got = "none" if teacher is None else f"shape {np.shape(teacher)}"
        raise ValueError(
            f"regnet.losses.teacher={config.losses.teacher} needs the training split's "
            f"{TEACHER_FIELD!r}: a finite elevation per sample ({n},); got {got} (set "
            "regnet.losses.teacher: 0 to train without)"
        )
    rows, _ = image_rows(split, crops.index)
    return {"teacher": torch.as_tensor(teacher[rows], dtype=torch.float32)}


def train_regnet(
    train: dict[str, np.ndarray],
    val: dict[str, np.ndarray],
    crops: ImageSet,
    bone_mean: np.ndarray,
    flow: PoseFlow | None,
    config: RegNetTrainingConfig,
    checkpoint=None,
    resume: bool = False,
) -> tuple[RegNet, FitResult]:
    """Train RegNet on the training split's person crops with 2D labels only.

    With ``losses.teacher`` on, ``train`` carries :data:`TEACHER_FIELD`: an elevation (rad) per
    row, read from its 2D labels by a LiftNet's elevation head
    (:func:`~epoch_kedro.inference.lifting.head_elevation`), which RegNet's elevation is pulled
    towards.
    """
    seed_everything(config.loop.seed)
    crops = checked_crops(crops, config)
    model = RegNet(config.model, bone_mean).to(memory_format=torch.channels_last)
    flow = freeze(flow)
    train_t = {**regnet_tensors(train, crops), **teacher_targets(train, crops, config)}
    val_rows, val_crops, val_boxes, val_frames = validation_set(val, crops, config)

    def loss_fn(model, batch, generator):
        if flow is not None:
            flow.to(batch["kp2d"].device)
        return regnet_terms(
            model, flow, augment(batch, generator, config.augment), generator, config.losses
        )

    def validate_fn(model):
        pred = predict_regnet(
            model,
            val_crops,
            val_boxes,
            val["image_size"][val_rows],
            frames=val_frames,
            precision=config.loop.precision,
        )
        return camera_metrics(pred, val, val_rows)

    meta = {"name": "regnet", "model": config.model.to_dict(), "samples": len(train_t["image"])}
    # The best epoch is the one with the lowest 2D validation error (2D labels are allowed).
    loop = replace(config.loop, monitor="px_error")
    prior = {} if flow is None else {"prior": flow.state_dict()}  # resumed: the same prior
    result = fit(
        model, train_t, loss_fn, validate_fn, loop,
        checkpoint=checkpoint, resume=resume, meta=meta, inputs=prior,
    )  # fmt: skip
    model.load_state_dict(result.best_state)
    return model.eval().cpu(), result
