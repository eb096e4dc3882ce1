"""RegNet: a person crop -> 3D pose in a body frame + a full perspective camera -> 2D pose.

RegNet reads a square crop around the person (a crop of a pinhole image is a pinhole camera
with exactly known intrinsics, :func:`epoch_kedro.geometry.crop_intrinsics`) and is told where
the crop sits in the full frame: the box's centre and side relative to the frame join the
image features, as in CLIFF (Li et al., ECCV 2022). Everything it predicts about the camera
lives in the **full frame**:

- ``pose_body (B, 17, 3)``: root-relative joints in a body frame (x the person's right,
  y forward, z up), scaled so the bones sum to the training population's mean (metres, as
  LiftNet); training starts from the rest pose;
- ``R (B, 3, 3)``: body -> camera rotation, from a 6D representation;
- ``K (B, 3, 3)``: the full frame's focal length (log scale, relative to the frame width) and
  principal point (near the frame's centre);
- ``t (B, 3)``: the root in camera coordinates: a root pixel inside the box and a depth
  centred on ``box_depth * f0 / b`` (a person who fills a box of side ``b`` is about that far
  from a camera of the prior focal length ``f0``), so the projected body starts at the box's
  scale;
- ``kp2d_heat (B, 17, 2)``: the sharp 2D by integral regression over heatmaps of the crop,
  mapped back to full-frame pixels.

Projection is the full pinhole model in the frame: ``kp2d = π(K (R P + t))``; the 2D keypoints
are the only label, for both 2D outputs (see :mod:`epoch_kedro.training.regnet`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from epoch_kedro.geometry import project, rot6d_to_matrix, uncrop_pixels
from epoch_kedro.models.backbone import Backbone, IntegralKeypoints
from epoch_kedro.skeleton import NUM_JOINTS, ROOT, bone_lengths, rest_pose


@dataclass(frozen=True)
class RegNetConfig:
    """Architecture and camera parametrisation of RegNet."""

    image_size: int = 64  # input crops are image_size x image_size (render.crop_size)
    widths: tuple[int, ...] = (32, 64, 128, 256)
    blocks: int = 1
    stem_stride: int = 2  # 4: a max-pool after the stem (larger crops at the same cost)
    hidden: int = 512
    focal_prior: float = 1.2  # prior mean of focal length / frame width
    box_depth: float = 2.3  # m: root depth x box side / focal of a typical crop
    # Optional: a small encoder of the low-resolution full frame (render.size px) whose
    # features join the heads (floor, horizon). Off by default: measured, it did not lower the
    # elevation error, as no 2D label supervises the horizon. () switches it off.
    context_widths: tuple[int, ...] = ()
    context_size: int = 64  # the full frames' size (render.size)
    fine_heatmaps: bool = False  # read the heatmaps out at the stem's resolution

    def to_dict(self) -> dict:
        """Plain dict (checkpoint-safe)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


@dataclass
class RegNetOutput:
    """One forward pass (batch first, full-frame pixels); see the module docstring."""

    pose_body: torch.Tensor
    R: torch.Tensor
    t: torch.Tensor
    K: torch.Tensor
    kp2d: torch.Tensor
    kp2d_heat: torch.Tensor
    heatmap: torch.Tensor | None = None  # (B, 17, h, w): the distributions behind kp2d_heat

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
#: What the network reads about its box: centre (2) and side, relative to the frame.
BOX_FEATURES = 3


def box_features(boxes: torch.Tensor, image_size: torch.Tensor) -> torch.Tensor:
    """Box centre in [-1, 1] of the frame and side / frame width: ``(B, 3)``."""
    centre = 2 * (boxes[:, :2] + 0.5) / image_size - 1
    return torch.cat([centre, (boxes[:, 2] / image_size[:, 0])[:, None]], -1)


class RegNet(nn.Module):
    """Crop ``(B, 3, S, S)`` in [0, 1] + its box + the frame size -> :class:`RegNetOutput`."""

    def __init__(self, config: RegNetConfig, bone_mean: np.ndarray | torch.Tensor) -> None:
        super().__init__()
        self.config = config
        # The out-of-domain calibration of trained weights (models.artifacts), None until then.
        self.domain: dict | None = None
        self.register_buffer("bone_mean", torch.as_tensor(bone_mean, dtype=torch.float32))
        self.backbone = Backbone(tuple(config.widths), config.blocks, config.stem_stride)
        cells = max(config.image_size // self.backbone.downsample, 1) ** 2
        self.flatten = nn.Flatten()
        self.context = None
        context_features = 0
        if config.context_widths:
            self.context = nn.Sequential(
                Backbone(tuple(config.context_widths)),
                _Last(),
                nn.Conv2d(config.context_widths[-1], 16, 1),
                nn.ReLU(inplace=True),
                nn.Flatten(),
            )
            downsample = 2 ** len(config.context_widths)
            context_features = 16 * max(config.context_size // downsample, 1) ** 2
        self.neck = nn.Sequential(
            nn.Linear(
                self.backbone.out_channels * cells + BOX_FEATURES + context_features, config.hidden
            ),
            nn.ReLU(inplace=True),
            nn.Linear(config.hidden, config.hidden),
            nn.ReLU(inplace=True),
        )
        self.head = nn.Linear(config.hidden, sum(_HEAD.values()))
        self.keypoints = IntegralKeypoints(
            tuple(config.widths), NUM_JOINTS, fine=config.fine_heatmaps
        )
        # A small head: training starts near the bias below, and gradients reach the backbone.
        nn.init.normal_(self.head.weight, std=1e-3)
        nn.init.zeros_(self.head.bias)
        with torch.no_grad():  # start facing the camera: identity-like 6D, person upright
            start = 3 * NUM_JOINTS
            self.head.bias[start : start + 6] = torch.tensor([-1.0, 0, 0, 0, 0, -1.0])
            # ... in the rest pose. A random start pose (scaled up to full size by the bone
            # normalisation) decided by its seed whether RegNet's 3D converged or collapsed.
            self.head.bias[:start] = torch.as_tensor(rest_pose(), dtype=torch.float32).ravel()

    def forward(
        self,
        images: torch.Tensor,
        boxes: torch.Tensor,
        image_size: torch.Tensor,
        frames: torch.Tensor | None = None,
    ) -> RegNetOutput:
        """``boxes (B, 3)``: the crops' ``(cx, cy, b)``; ``image_size (B, 2)``: frames' W, H;
        ``frames (B, 3, s, s)``: the low-resolution full frames (needed with a context)."""
        size = images.shape[-1]
        boxes, image_size = boxes.float(), image_size.float()
        features = self.backbone(images)
        parts_in = [self.flatten(features[-1]).float(), box_features(boxes, image_size)]
        if self.context is not None:
            if frames is None:
                raise ValueError("this RegNet reads the full frame too: pass frames")
            parts_in.append(self.context(frames).float())
        neck_in = torch.cat(parts_in, -1)
        out = self.head(self.neck(neck_in.to(features[-1].dtype)))
        parts = dict(zip(_HEAD, out.float().split(list(_HEAD.values()), dim=-1), strict=True))
        pose = parts["pose"].reshape(-1, NUM_JOINTS, 3)
        pose = pose - pose[:, ROOT : ROOT + 1]
        pose = (
            pose
            * (self.bone_mean.sum() / bone_lengths(pose).sum(-1).clamp_min(1e-6))[:, None, None]
        )
        R = rot6d_to_matrix(parts["rot6d"])
        width = image_size[:, 0]
        f = width * self.config.focal_prior * torch.exp(parts["focal"][:, 0])
        centre = image_size / 2 + 0.05 * width[:, None] * torch.tanh(parts["centre"])
        K = torch.zeros(len(images), 3, 3, device=images.device, dtype=f.dtype)
        K[:, 0, 0], K[:, 1, 1], K[:, 2, 2] = f, f, 1.0
        K[:, :2, 2] = centre
        side = boxes[:, 2]
        root_px = boxes[:, :2] + 0.5 * side[:, None] * torch.tanh(parts["root_uv"])
        # The depth is centred on what the box says at the *prior* focal length, not the
        # predicted one: tied to the prediction, f and depth would scale together and the 2D
        # loss would leave the focal length free to drift.
        f_prior = width * self.config.focal_prior
        depth = (
            self.config.box_depth * f_prior / side * torch.exp(parts["depth"][:, 0].clamp(-3, 3))
        )
        ray = torch.cat([(root_px - centre) / f[:, None], torch.ones_like(f)[:, None]], -1)
        t = depth[:, None] * ray
        pose_cam = pose @ R.transpose(-1, -2) + t[:, None]
        depth_ok = torch.cat([pose_cam[..., :2], pose_cam[..., 2:].clamp_min(0.05)], -1)
        heat, heatmap = self.keypoints(features, size)
        return RegNetOutput(
            pose_body=pose,
            R=R,
            t=t,
            K=K,
            kp2d=project(depth_ok, K),
            kp2d_heat=uncrop_pixels(heat, boxes, size),
            heatmap=heatmap,
        )


class _Last(nn.Module):
    """The last (coarsest) feature map of a :class:`Backbone`."""

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        return features[-1]


def log_focal_ratio(K: torch.Tensor, width: torch.Tensor) -> torch.Tensor:
    """``log(f / W)`` of intrinsics ``(B, 3, 3)`` for frames ``W`` pixels wide: ``(B,)``."""
    return torch.log(0.5 * (K[:, 0, 0] + K[:, 1, 1]) / width)


__all__ = ["RegNet", "RegNetConfig", "RegNetOutput", "box_features", "log_focal_ratio"]
