"""RegNet: one image -> 3D pose in a body frame + a full perspective camera -> 2D pose.

The network predicts (all from the image alone):

- ``pose_body (B, 17, 3)``: root-relative joints in a body frame (x the person's right,
  y forward, z up), scaled so the bones sum to the training population's mean (metres, as
  LiftNet); training starts from the rest pose;
- ``R (B, 3, 3)``: body -> camera rotation, from a 6D representation;
- ``t (B, 3)``: the root in camera coordinates, as a depth along the ray of a predicted root
  pixel (so the root's image position is learnt directly);
- ``K (B, 3, 3)``: focal length (log scale, relative to the image size) and principal point;
- ``kp2d_heat (B, 17, 2)``: a sharper 2D estimate by integral regression (soft-argmax) over
  heatmaps at 1/4 resolution, built from fine features and upsampled global context.

Projection is the full pinhole model: ``kp2d = π(K (R P + t))``; the 2D keypoints are the only
label, for both 2D outputs (see :mod:`epoch_kedro.training.regnet`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from epoch_kedro.geometry import project, rot6d_to_matrix
from epoch_kedro.models.backbone import Backbone
from epoch_kedro.skeleton import NUM_JOINTS, ROOT, bone_lengths, rest_pose


@dataclass(frozen=True)
class RegNetConfig:
    """Architecture and camera parametrisation of RegNet."""

    image_size: int = 64  # input images are image_size x image_size (the rendered size)
    widths: tuple[int, ...] = (32, 64, 128, 256)
    blocks: int = 1
    stem_stride: int = 2  # 4: a max-pool after the stem (larger images at the same cost)
    hidden: int = 512
    focal_prior: float = 1.2  # prior mean of focal length / image width
    depth_prior: float = 5.0  # metres: the root depth the depth head is centred on

    def to_dict(self) -> dict:
        """Plain dict (checkpoint-safe)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


@dataclass
class RegNetOutput:
    """One forward pass (batch first); see the module docstring for each field."""

    pose_body: torch.Tensor
    R: torch.Tensor
    t: torch.Tensor
    K: torch.Tensor
    kp2d: torch.Tensor
    kp2d_heat: torch.Tensor

    @property
    def pose_cam(self) -> torch.Tensor:
        """The 3D pose in camera coordinates ``(B, 17, 3)`` metres."""
        return self.pose_body @ self.R.transpose(-1, -2) + self.t[:, None]

    @property
    def gravity(self) -> torch.Tensor:
        """World "down" (the body frame's -z) in camera coordinates ``(B, 3)``."""
        return -self.R[..., 2]


# Output layout of the head: pose, 6D rotation, root pixel (2), log depth, log focal, centre (2).
_HEAD = {"pose": 3 * NUM_JOINTS, "rot6d": 6, "root_uv": 2, "depth": 1, "focal": 1, "centre": 2}


class RegNet(nn.Module):
    """Image ``(B, 3, S, S)`` in [0, 1] -> :class:`RegNetOutput`."""

    def __init__(self, config: RegNetConfig, bone_mean: np.ndarray | torch.Tensor) -> None:
        super().__init__()
        self.config = config
        self.register_buffer("bone_mean", torch.as_tensor(bone_mean, dtype=torch.float32))
        self.backbone = Backbone(tuple(config.widths), config.blocks, config.stem_stride)
        cells = max(config.image_size // self.backbone.downsample, 1) ** 2
        self.neck = nn.Sequential(
            nn.Flatten(),
            nn.Linear(self.backbone.out_channels * cells, config.hidden),
            nn.ReLU(inplace=True),
            nn.Linear(config.hidden, config.hidden),
            nn.ReLU(inplace=True),
        )
        self.head = nn.Linear(config.hidden, sum(_HEAD.values()))
        fine, coarse = config.widths[1], config.widths[-1]
        self.heatmap = nn.Sequential(
            nn.Conv2d(fine + coarse, 64, 3, padding=1, bias=False),
            nn.BatchNorm2d(64),
            nn.ReLU(inplace=True),
            nn.Conv2d(64, NUM_JOINTS, 1),
        )
        # A small head: training starts near the bias below, and gradients reach the backbone.
        nn.init.normal_(self.head.weight, std=1e-3)
        nn.init.zeros_(self.head.bias)
        with torch.no_grad():  # start facing the camera: identity-like 6D, person upright
            start = sum(list(_HEAD.values())[:1])
            self.head.bias[start : start + 6] = torch.tensor([-1.0, 0, 0, 0, 0, -1.0])
            # ... in the rest pose. A random start pose (scaled up to full size by the bone
            # normalisation) decided by its seed whether RegNet's 3D converged or collapsed.
            self.head.bias[: 3 * NUM_JOINTS] = torch.as_tensor(
                rest_pose(), dtype=torch.float32
            ).ravel()

    def forward(self, images: torch.Tensor) -> RegNetOutput:
        size = images.shape[-1]
        features = self.backbone(images)
        out = self.head(self.neck(features[-1]))
        parts = dict(zip(_HEAD, out.split(list(_HEAD.values()), dim=-1), strict=True))
        pose = parts["pose"].reshape(-1, NUM_JOINTS, 3)
        pose = pose - pose[:, ROOT : ROOT + 1]
        pose = (
            pose
            * (self.bone_mean.sum() / bone_lengths(pose).sum(-1).clamp_min(1e-6))[:, None, None]
        )
        R = rot6d_to_matrix(parts["rot6d"])
        f = size * self.config.focal_prior * torch.exp(parts["focal"][:, 0])
        centre = size / 2 + 0.05 * size * torch.tanh(parts["centre"])
        K = torch.zeros(len(images), 3, 3, device=images.device, dtype=out.dtype)
        K[:, 0, 0], K[:, 1, 1], K[:, 2, 2] = f, f, 1.0
        K[:, :2, 2] = centre
        root_px = centre + 0.75 * size * torch.tanh(parts["root_uv"])
        depth = self.config.depth_prior * torch.exp(parts["depth"][:, 0].clamp(-3, 3))
        ray = torch.cat([(root_px - centre) / f[:, None], torch.ones_like(f)[:, None]], -1)
        t = depth[:, None] * ray
        pose_cam = pose @ R.transpose(-1, -2) + t[:, None]
        depth_ok = torch.cat([pose_cam[..., :2], pose_cam[..., 2:].clamp_min(0.05)], -1)
        return RegNetOutput(
            pose_body=pose,
            R=R,
            t=t,
            K=K,
            kp2d=project(depth_ok, K),
            kp2d_heat=self._integral_2d(features[1], features[-1], size),
        )

    def _integral_2d(self, fine: torch.Tensor, coarse: torch.Tensor, size: int) -> torch.Tensor:
        """Soft-argmax keypoints ``(B, 17, 2)`` in image pixels from 1/4-resolution heatmaps."""
        context = nn.functional.interpolate(coarse, size=fine.shape[-2:], mode="nearest")
        logits = self.heatmap(torch.cat([fine, context], 1)).float()
        b, j, h, w = logits.shape
        prob = logits.flatten(2).softmax(-1).view(b, j, h, w)
        stride = size / w
        xs = (torch.arange(w, device=prob.device, dtype=prob.dtype) + 0.5) * stride - 0.5
        ys = (torch.arange(h, device=prob.device, dtype=prob.dtype) + 0.5) * stride - 0.5
        return torch.stack([(prob.sum(2) * xs).sum(-1), (prob.sum(3) * ys).sum(-1)], -1)


def log_focal_ratio(K: torch.Tensor, size: int) -> torch.Tensor:
    """``log(f / S)`` of intrinsics ``(B, 3, 3)`` for an ``S``-pixel image: ``(B,)``."""
    return torch.log(0.5 * (K[:, 0, 0] + K[:, 1, 1]) / size)


__all__ = ["RegNet", "RegNetConfig", "RegNetOutput", "log_focal_ratio"]
