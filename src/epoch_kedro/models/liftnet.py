"""LiftNet: 2D pose + camera intrinsics (+ gravity) -> metric 3D pose in camera coordinates.

Full perspective (ours, after ElePose): with rays ``r_j = K^-1 [u_j, 1]``, joint ``j`` is
``X_j = z_j [r_jx, r_jy, 1]``: depth along the exact ray. The network predicts scale-free depth
offsets ``d_j`` and ``z_j = Z exp(s d_j)`` with ``s`` the 2D scale of the pose in ray units and
``Z`` the root depth, fixed by the anthropometric prior (the lifted bones sum to the training
population's mean bone lengths). The output is metric (metres, camera frame).

Missing joints (``presence_mask``, docs/MISSING_JOINTS.md): the input is the 2D of the present
joints (normalised over them, zeros elsewhere) plus the 17-long mask. A missing joint has no ray,
so a second head predicts every joint's normalised 2D position; it is used only where the joint
is missing, which puts that joint on the ray through its predicted position. The output always
has all 17 joints.

``camera_model="weak_perspective"`` is ElePose's camera for the ablation: K and the position in
the image are ignored, the normalised pose sits on the optical axis at a fixed depth
(``s = 1 / weak_depth``), i.e. nearly orthographic.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from epoch_kedro.skeleton import NUM_JOINTS, bone_lengths

CAMERA_MODELS = ("perspective", "weak_perspective")


@dataclass(frozen=True)
class LiftNetConfig:
    """Architecture and camera model of LiftNet."""

    width: int = 1024
    blocks: int = 5
    camera_model: str = "perspective"
    use_gravity: bool = True  # feed the camera's gravity direction when it is known
    weak_depth: float = 10.0  # ElePose's fixed depth offset for the weak-perspective ablation
    # Input the per-joint presence mask (and complete missing joints). Artifacts written before
    # it existed load with False (models/artifacts.py): their input layer has no mask inputs.
    presence_mask: bool = True

    def __post_init__(self) -> None:
        if self.camera_model not in CAMERA_MODELS:
            raise ValueError(
                f"camera_model must be one of {CAMERA_MODELS}, got {self.camera_model!r}"
            )
        if self.width < 1 or self.blocks < 0:
            raise ValueError("width must be >= 1 and blocks >= 0")

    def to_dict(self) -> dict:
        """Plain dict (checkpoint-safe)."""
        return asdict(self)


@dataclass
class LiftOutput:
    """What one lift returns (all batch-first).

    ``pose (N, 17, 3)`` metres, camera frame; ``depth (N, 17)`` scale-free depth offsets;
    ``up (N, 3)`` the person's vertical axis in camera coordinates; ``elevation (N,)`` radians
    (predicted, or derived from the given gravity).
    """

    pose: torch.Tensor
    depth: torch.Tensor
    up: torch.Tensor
    elevation: torch.Tensor


class ResidualBlock(nn.Module):
    """Two linear layers with LeakyReLU and an identity skip (ElePose/Martinez style)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(width, width), nn.LeakyReLU(0.2), nn.Linear(width, width), nn.LeakyReLU(0.2)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.layers(x)


def gravity_from_elevation(elevation: torch.Tensor) -> torch.Tensor:
    """World "down" in camera coordinates for a camera pitched by ``elevation`` (no roll)."""
    return torch.stack(
        [torch.zeros_like(elevation), torch.cos(elevation), torch.sin(elevation)], -1
    )


class LiftNet(nn.Module):
    """The lifting network and its fixed anthropometric prior ``bone_mean (16,)`` (metres)."""

    def __init__(self, config: LiftNetConfig, bone_mean: np.ndarray | torch.Tensor) -> None:
        super().__init__()
        self.config = config
        self.register_buffer("bone_mean", torch.as_tensor(bone_mean, dtype=torch.float32))
        in_dim = 2 * NUM_JOINTS + 2 + 1 + 3 + NUM_JOINTS * config.presence_mask
        self.stem = nn.Sequential(nn.Linear(in_dim, config.width), nn.LeakyReLU(0.2))
        self.blocks = nn.Sequential(*[ResidualBlock(config.width) for _ in range(config.blocks)])
        self.depth_head = nn.Linear(config.width, NUM_JOINTS)
        self.elevation_head = nn.Linear(config.width, 1)
        if config.presence_mask:
            self.position_head = nn.Linear(config.width, 2 * NUM_JOINTS)

    @property
    def perspective(self) -> bool:
        return self.config.camera_model == "perspective"

    def _inputs(
        self,
        pose2d: torch.Tensor,
        scale2d: torch.Tensor,
        root_ray: torch.Tensor,
        gravity: torch.Tensor | None,
        present: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Network features, effective 2D scale ``s (N,)`` and root ray ``(N, 2)``."""
        if not self.perspective:
            scale2d = torch.full_like(scale2d, 1.0 / self.config.weak_depth)
            root_ray = torch.zeros_like(root_ray)
        # log s: the 2D extent in ray units, ~ body size / distance, tells how strong the
        # perspective foreshortening is (a constant for the weak-perspective camera).
        parts = [pose2d.flatten(1), root_ray, torch.log(scale2d)[:, None]]
        parts.append(self._known_gravity(pose2d, gravity))
        if self.config.presence_mask:
            # Zeroed here too, so a missing joint's coordinates can never reach the network.
            parts[0] = torch.where(present[..., None], pose2d, 0.0).flatten(1)
            parts.append(present.to(pose2d))
        return torch.cat(parts, -1), scale2d, root_ray

    def _present(self, pose2d: torch.Tensor, present: torch.Tensor | None) -> torch.Tensor:
        """The ``(N, 17)`` bool mask (all present when ``None``); a model without mask inputs
        refuses a partial pose rather than lift its placeholder coordinates."""
        if present is None:
            return torch.ones(pose2d.shape[:2], dtype=torch.bool, device=pose2d.device)
        present = present.to(device=pose2d.device, dtype=torch.bool)
        if not self.config.presence_mask and not bool(present.all()):
            raise ValueError(
                "present: this LiftNet was trained without a presence mask "
                "(presence_mask=False) and cannot lift poses with missing joints; retrain it"
            )
        return present

    def _known_gravity(self, pose2d: torch.Tensor, gravity: torch.Tensor | None) -> torch.Tensor:
        """Gravity rows as given, zeros where unknown (or when the model ignores gravity)."""
        if gravity is None or not self.config.use_gravity:
            return torch.zeros(len(pose2d), 3, device=pose2d.device, dtype=pose2d.dtype)
        return gravity

    def forward(
        self,
        pose2d: torch.Tensor,
        scale2d: torch.Tensor,
        root_ray: torch.Tensor,
        gravity: torch.Tensor | None = None,
        present: torch.Tensor | None = None,
    ) -> LiftOutput:
        """Lift normalised 2D poses ``(N, 17, 2)`` with scales ``(N,)`` and root rays ``(N, 2)``.

        ``gravity (N, 3)``: world "down" in camera coordinates; rows of zeros (or ``None``) mean
        unknown, and the network's own elevation estimate stands in. ``present (N, 17)`` bool:
        the joints seen (``None``: all); the root must be present (it anchors ``root_ray``).
        """
        present = self._present(pose2d, present)
        feats, s, root = self._inputs(pose2d, scale2d, root_ray, gravity, present)
        hidden = self.blocks(self.stem(feats))
        if self.config.presence_mask:
            guess = self.position_head(hidden).view_as(pose2d)
            pose2d = torch.where(present[..., None], pose2d, guess)
        raw = self.depth_head(hidden)
        depth = raw - raw[:, :1]  # the root defines depth zero
        predicted = torch.tanh(self.elevation_head(hidden)[:, 0]) * (torch.pi / 2)
        # A zero gravity row means "unknown": the predicted elevation then gives the vertical.
        given = self._known_gravity(pose2d, gravity)
        norm = given.norm(dim=-1, keepdim=True)
        known = norm > 0.5
        g = torch.where(known, given / norm.clamp_min(1e-8), gravity_from_elevation(predicted))
        elevation = torch.where(known[:, 0], torch.asin(g[:, 2].clamp(-1, 1)), predicted)
        pose = self.to_metric(pose2d * s[:, None, None] + root[:, None, :], s, depth)
        return LiftOutput(pose=pose, depth=depth, up=-g, elevation=elevation)

    def to_metric(
        self, rays_xy: torch.Tensor, s: torch.Tensor, depth: torch.Tensor
    ) -> torch.Tensor:
        """Metric pose from ray coordinates ``(N,17,2)``, scales ``(N,)`` and depths ``(N,17)``."""
        z = torch.exp(s[:, None] * depth)
        unit = torch.cat([rays_xy * z[..., None], z[..., None]], -1)  # root at depth 1
        root_depth = self.bone_mean.sum() / bone_lengths(unit).sum(-1).clamp_min(1e-8)
        return unit * root_depth[:, None, None]
