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

from epoch_kedro.data.normalize import normalize_2d
from epoch_kedro.evaluation.metrics import joint_errors, keypoint_errors_2d
from epoch_kedro.geometry import azimuth_rotation, project_normalized, resize_pixels
from epoch_kedro.models.flow import PoseFlow
from epoch_kedro.models.regnet import RegNet, RegNetConfig, log_focal_ratio
from epoch_kedro.skeleton import FLIP_PERMUTATION
from epoch_kedro.training import losses
from epoch_kedro.training.loop import FitResult, LoopConfig, fit
from epoch_kedro.utils.config import from_params
from epoch_kedro.utils.runtime import seed_everything

#: What RegNet's loss sees: the image and its 2D keypoint labels. No 3D, no camera.
REGNET_INPUTS = ("image", "kp2d", "visible")


@dataclass(frozen=True)
class RegNetLossWeights:
    """Weight of each term; 0 switches a term off."""

    kp2d: float = 1.0  # the 2D of the projected 3D pose and camera
    kp2d_heat: float = 1.0  # the integral-regression 2D
    symmetry: float = 0.1
    bone_ratio: float = 0.1
    bending: float = 0.1
    flow: float = 0.1
    focal_prior: float = 0.002


@dataclass(frozen=True)
class AugmentConfig:
    """Training-time image augmentation (labels follow the image)."""

    flip: float = 0.5  # probability of a horizontal flip (left/right joints swap)
    colour: float = 0.2  # per-channel gain jitter
    shift: float = 0.06  # maximal translation, fraction of the image size


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


def image_rows(split: dict[str, np.ndarray], image_index: dict[str, np.ndarray]) -> tuple:
    """Split rows that have an image, and the matching image rows: ``(rows, image_rows)``."""
    ids = image_index["sample_id"]  # ascending, as rendered
    if len(ids) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    pos = np.clip(np.searchsorted(ids, split["sample_id"]), 0, len(ids) - 1)
    found = ids[pos] == split["sample_id"]
    return np.flatnonzero(found), pos[found]


def to_image_pixels(kp2d: np.ndarray, image_size: np.ndarray, size: int) -> np.ndarray:
    """Full-frame pixels -> pixels of the ``size`` x ``size`` resized image."""
    return resize_pixels(kp2d, size / np.asarray(image_size, np.float64))


def from_image_pixels(kp2d: np.ndarray, image_size: np.ndarray, size: int) -> np.ndarray:
    """Pixels of the resized image -> full-frame pixels (inverse of :func:`to_image_pixels`)."""
    return resize_pixels(kp2d, np.asarray(image_size, np.float64) / size)


def regnet_tensors(
    split: dict[str, np.ndarray], images: np.ndarray, image_index: dict[str, np.ndarray]
) -> dict[str, torch.Tensor]:
    """RegNet's training inputs of a split: uint8 images and 2D labels in image pixels."""
    rows, img_rows = image_rows(split, image_index)
    size = images.shape[1]
    kp = to_image_pixels(split["kp2d_observed"][rows], split["image_size"][rows], size)
    return {
        "image": torch.as_tensor(np.ascontiguousarray(images[img_rows])),
        "kp2d": torch.as_tensor(kp, dtype=torch.float32),
        "visible": torch.as_tensor(split["visible"][rows]),
    }


def prepare_images(image_u8: torch.Tensor) -> torch.Tensor:
    """``(B, S, S, 3)`` uint8 -> ``(B, 3, S, S)`` float in [0, 1], channels-last memory."""
    x = image_u8.permute(0, 3, 1, 2).float() / 255.0
    return x.contiguous(memory_format=torch.channels_last)


def shift_image(image: torch.Tensor, dx: int, dy: int, margin: int) -> torch.Tensor:
    """Translate ``(B, C, S, S)`` by ``(dx, dy)`` pixels; edge pixels fill what moves in.

    Replicating the border (rather than wrapping content around) keeps the frame a plausible
    camera image: a wrapped floor or body part would be a false perspective cue.
    """
    size = image.shape[-1]
    padded = torch.nn.functional.pad(image, (margin,) * 4, mode="replicate")
    return padded[..., margin - dy : margin - dy + size, margin - dx : margin - dx + size]


def augment(batch: dict, generator: torch.Generator, config: AugmentConfig) -> dict:
    """Flip (left/right swap), colour gain and translation; the 2D labels move with the image."""
    image, kp, vis = prepare_images(batch["image"]), batch["kp2d"].clone(), batch["visible"]
    b, _, size, _ = image.shape
    dev = image.device
    flip = (torch.rand(b, generator=generator) < config.flip).to(dev)
    if flip.any():
        perm = torch.as_tensor(FLIP_PERMUTATION, device=dev)
        image = torch.where(flip[:, None, None, None], image.flip(-1), image)
        flipped_kp = kp[:, perm].clone()
        flipped_kp[..., 0] = size - 1 - flipped_kp[..., 0]
        kp = torch.where(flip[:, None, None], flipped_kp, kp)
        vis = torch.where(flip[:, None], vis[:, perm], vis)
    gain = 1 + config.colour * (2 * torch.rand(b, 3, 1, 1, generator=generator) - 1)
    image = (image * gain.to(dev)).clamp(0, 1)
    max_shift = round(config.shift * size)
    if max_shift:
        dx, dy = (
            int(v) for v in torch.randint(-max_shift, max_shift + 1, (2,), generator=generator)
        )
        image = shift_image(image, dx, dy, max_shift)
        kp = kp + torch.tensor([dx, dy], dtype=kp.dtype, device=dev)
    return {"image": image, "kp2d": kp, "visible": vis}


def regnet_terms(
    model: RegNet,
    flow: PoseFlow | None,
    batch: dict,
    generator: torch.Generator,
    weights: RegNetLossWeights,
) -> dict[str, torch.Tensor]:
    """Loss terms of one (already augmented) batch."""
    out = model(batch["image"])
    size = batch["image"].shape[-1]
    vis = batch["visible"].to(out.kp2d.dtype)

    def masked_l1(pred: torch.Tensor) -> torch.Tensor:
        err = (pred - batch["kp2d"]).abs().sum(-1) / size
        return (err * vis).sum() / vis.sum().clamp_min(1.0)

    terms = {"kp2d": masked_l1(out.kp2d)}
    if weights.kp2d_heat:
        terms["kp2d_heat"] = masked_l1(out.kp2d_heat)
    if weights.symmetry:
        terms["symmetry"] = losses.bone_symmetry(out.pose_body)
    if weights.bone_ratio:
        terms["bone_ratio"] = losses.bone_ratio(out.pose_body, model.bone_mean)
    if weights.bending:
        terms["bending"] = losses.bending_limits(out.pose_cam, -out.gravity)
    if weights.flow and flow is not None:
        azimuth = (torch.rand(len(vis), generator=generator) * 2 - 1).to(vis) * math.pi
        turned = out.pose_body @ azimuth_rotation(azimuth).transpose(-1, -2).to(vis)
        virtual = turned @ out.R.transpose(-1, -2) + out.t[:, None]
        virtual = torch.cat([virtual[..., :2], virtual[..., 2:].clamp_min(0.05)], -1)
        pose2d, _ = normalize_2d(project_normalized(virtual))
        terms["flow"] = losses.flow_nll(flow, pose2d)
    if weights.focal_prior:
        prior = math.log(model.config.focal_prior)
        terms["focal_prior"] = ((log_focal_ratio(out.K, size) - prior) ** 2).mean()
    terms["total"] = sum(getattr(weights, name) * value for name, value in terms.items())
    return terms


def predict(model: RegNet, images: np.ndarray | torch.Tensor, batch_size: int = 256) -> dict:
    """RegNet outputs for uint8 images ``(M, S, S, 3)`` as numpy (image pixels, metres)."""
    device = next(model.parameters()).device
    model.eval()
    keys = ("kp2d", "kp2d_heat", "K", "R", "t", "pose_cam", "gravity")
    chunks: dict[str, list] = {k: [] for k in keys}
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            batch = torch.as_tensor(np.ascontiguousarray(images[start : start + batch_size]))
            out = model(prepare_images(batch.to(device)))
            for key in keys:
                chunks[key].append(getattr(out, key).float().cpu().numpy())
    return {k: np.concatenate(v) if v else np.zeros((0,)) for k, v in chunks.items()}


def camera_metrics(pred: dict, split: dict, rows: np.ndarray, size: int) -> dict[str, float]:
    """2D error (image px; integral and projected 2D), PCK@0.05, focal and elevation errors."""
    kp_gt = to_image_pixels(split["kp2d_observed"][rows], split["image_size"][rows], size)
    vis = split["visible"][rows]
    diagonal = np.full(len(rows), np.sqrt(2) * size)
    px_error, pck = keypoint_errors_2d(pred["kp2d_heat"], kp_gt, vis, diagonal)
    px_projected, _ = keypoint_errors_2d(pred["kp2d"], kp_gt, vis, diagonal)
    focal_gt = split["K"][rows, 0, 0] / split["image_size"][rows, 0]
    focal = pred["K"][:, 0, 0] / size
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


@dataclass(frozen=True)
class ImageSet:
    """Rendered images ``(M, S, S, 3)`` uint8 and their index (``sample_id``, scaled ``K``)."""

    images: np.ndarray
    index: dict[str, np.ndarray]


def train_regnet(
    train: dict[str, np.ndarray],
    val: dict[str, np.ndarray],
    image_set: ImageSet,
    bone_mean: np.ndarray,
    flow: PoseFlow | None,
    config: RegNetTrainingConfig,
    checkpoint=None,
    resume: bool = False,
) -> tuple[RegNet, FitResult]:
    """Train RegNet on the training split's images with 2D labels only."""
    seed_everything(config.loop.seed)
    model = RegNet(config.model, bone_mean)
    images, image_index = image_set.images, image_set.index
    size = images.shape[1]
    if size != config.model.image_size:
        raise ValueError(
            f"images are {size} px but regnet.model.image_size is "
            f"{config.model.image_size}; set it to render.size"
        )
    model = model.to(memory_format=torch.channels_last)
    if flow is not None:
        flow = flow.eval()
        for p in flow.parameters():
            p.requires_grad_(False)
    train_t = regnet_tensors(train, images, image_index)
    val_rows, val_img = image_rows(val, image_index)
    keep = np.random.default_rng(config.loop.seed).permutation(len(val_rows))
    keep = np.sort(keep[: config.validation_samples])
    val_rows, val_img = val_rows[keep], val_img[keep]
    val_images = np.ascontiguousarray(images[val_img])

    def loss_fn(model, batch, generator):
        if flow is not None:
            flow.to(batch["kp2d"].device)
        return regnet_terms(
            model, flow, augment(batch, generator, config.augment), generator, config.losses
        )

    def validate_fn(model):
        pred = predict(model, val_images)
        return camera_metrics(pred, val, val_rows, size)

    meta = {"name": "regnet", "model": config.model.to_dict(), "samples": len(train_t["image"])}
    # The best epoch is the one with the lowest 2D validation error (2D labels are allowed).
    loop = replace(config.loop, monitor="px_error")
    result = fit(
        model, train_t, loss_fn, validate_fn, loop, checkpoint=checkpoint, resume=resume, meta=meta
    )
    model.load_state_dict(result.best_state)
    return model.eval().cpu(), result
