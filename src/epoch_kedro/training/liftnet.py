"""Training of the 2D pose flow prior and of LiftNet (random-rotation cycle, no 3D labels)."""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from epoch_kedro.data.detector_noise import DetectorNoise, corrupt
from epoch_kedro.evaluation.metrics import joint_errors
from epoch_kedro.geometry import normalize_2d, project_normalized, rotation_about_axis
from epoch_kedro.inference.lifting import lift_tensors, predict_poses
from epoch_kedro.liftnet_inputs import normalize_present
from epoch_kedro.models.flow import PoseFlow
from epoch_kedro.models.liftnet import LiftNet, LiftNetConfig
from epoch_kedro.training import losses
from epoch_kedro.training.joint_dropout import JointDropout, drop_joints
from epoch_kedro.training.loop import FitResult, LoopConfig, fit
from epoch_kedro.utils.config import from_params
from epoch_kedro.utils.runtime import seed_everything

logger = logging.getLogger(__name__)


#: Where LiftNet's training 2D and camera come from (``liftnet.train_inputs``;
#: conf/base/parameters_liftnet.yml says what each is).
TRAIN_INPUTS = ("ground_truth", "regnet", "regnet_camera")


@dataclass(frozen=True)
class LossWeights:
    """Weight of each unsupervised term; 0 switches a term off."""

    flow: float = 1.0
    cycle_2d: float = 1.0
    cycle_3d: float = 1.0
    symmetry: float = 1.0
    bone_ratio: float = 1.0
    bending: float = 1.0
    deformation: float = 1.0
    consistency: float = 0.0  # a pose with joints hidden lifts as its complete 2D does


@dataclass(frozen=True)
class CycleConfig:
    """The virtual views: random azimuth about the person's vertical axis."""

    azimuth_deg: float = 180.0  # azimuth drawn uniformly in [-a, a]
    min_depth_ratio: float = 0.3  # virtual-view joints kept at least this fraction of root depth
    gravity_dropout: float = 0.2  # share of samples trained as if gravity were unknown


@dataclass(frozen=True)
class LiftTrainingConfig:
    """Everything ``train_liftnet`` needs (the ``liftnet`` parameter group)."""

    model: LiftNetConfig = field(default_factory=LiftNetConfig)
    loop: LoopConfig = field(default_factory=LoopConfig)
    losses: LossWeights = field(default_factory=LossWeights)
    cycle: CycleConfig = field(default_factory=CycleConfig)
    noise: DetectorNoise = field(default_factory=DetectorNoise)
    dropout: JointDropout = field(default_factory=JointDropout)
    validation_samples: int = 4096

    def validate(self) -> None:
        """Raise ``ValueError`` (one line) on settings that cannot train together."""
        self.noise.validate()
        self.dropout.validate()
        if self.dropout.active and not self.model.presence_mask:
            raise ValueError(
                "liftnet.dropout.share > 0 needs liftnet.model.presence_mask: true "
                "(a LiftNet without the mask cannot tell a hidden joint)"
            )


def cycle_terms(
    model: LiftNet,
    flow: PoseFlow,
    batch: dict[str, torch.Tensor],
    generator: torch.Generator,
    weights: LossWeights,
    cycle: CycleConfig,
    noise: DetectorNoise | None = None,
    dropout: JointDropout | None = None,
) -> dict[str, torch.Tensor]:
    """All loss terms of one batch: lift, rotate, project, re-lift, rotate back, compare.

    In training, ``noise`` corrupts the input 2D first (the lift goes through the input rays,
    so the cycle can only be asked to return to what was lifted); then ``dropout`` hides
    joints (:mod:`~epoch_kedro.training.joint_dropout`). Joints missing from the data
    (``present``) never count in the 2D cycle term; the virtual view is complete (the lift
    has all 17 joints), so the flow prior and the 3D terms see every joint.
    """
    if noise is not None and model.training:
        batch = corrupt(batch, noise, generator)
    target = complete = batch
    if dropout is not None and dropout.active and model.training:
        batch = drop_joints(batch, dropout, generator)
        if not dropout.score_hidden:
            target = batch
    gravity = batch.get("gravity")
    if gravity is not None and cycle.gravity_dropout and model.training:
        keep = torch.rand(len(gravity), generator=generator) >= cycle.gravity_dropout
        gravity = gravity * keep[:, None].to(gravity)
    first = model(
        batch["pose2d"], batch["scale2d"], batch["root_ray"], gravity, batch.get("present")
    )
    pose = first.pose
    root = pose[:, :1]
    limit = math.radians(cycle.azimuth_deg)
    azimuth = (torch.rand(len(pose), generator=generator) * 2 - 1).to(pose) * limit
    R = rotation_about_axis(first.up, azimuth)
    rotated = (pose - root) @ R.transpose(-1, -2) + root
    depth = torch.maximum(rotated[..., 2:], cycle.min_depth_ratio * root[..., 2:])
    u_virtual = project_normalized(torch.cat([rotated[..., :2], depth], -1))
    pose2d_v, scale_v = normalize_2d(u_virtual)
    second = model(pose2d_v, scale_v, u_virtual[:, 0], gravity)
    rel = pose - root
    rel_back = (second.pose - second.pose[:, :1]) @ R  # rotate back (R^T applied)
    u_back = project_normalized(rel_back + root)
    terms: dict[str, torch.Tensor] = {}
    if weights.flow:
        terms["flow"] = losses.flow_nll(flow, pose2d_v)
    if weights.cycle_2d:
        terms["cycle_2d"] = _cycle_2d(u_back, target)
    if weights.cycle_3d:
        terms["cycle_3d"] = losses.cycle_3d(rel_back, rel)
    if weights.symmetry:
        terms["symmetry"] = losses.bone_symmetry(pose)
    if weights.bone_ratio:
        terms["bone_ratio"] = losses.bone_ratio(pose, model.bone_mean)
    if weights.bending:
        terms["bending"] = losses.bending_limits(pose, first.up)
    if weights.deformation:
        terms["deformation"] = losses.pairwise_deformation(rel, rel_back)
    if weights.consistency and complete is not batch:
        terms["consistency"] = _hidden_consistency(model, complete, batch, gravity, rel)
    terms["total"] = sum(getattr(weights, name) * value for name, value in terms.items())
    return terms


def _hidden_consistency(
    model: LiftNet,
    complete: dict[str, torch.Tensor],
    dropped: dict[str, torch.Tensor],
    gravity: torch.Tensor | None,
    rel: torch.Tensor,
) -> torch.Tensor:
    """Mean joint distance (m) between the root-relative lift of the poses that had joints
    hidden and the lift of the same poses complete, as a fixed target (no gradient).

    The hidden joints' 2D is known in training, so the network's own lift of the complete pose
    is the best target it has for the partial one: no 3D label is used. The cycle alone lets a
    hidden wrist go anywhere plausible; this asks for the lift the visible joints predict, and
    for the rest of the pose not to move when a joint goes missing.
    """
    before = complete.get("present")
    now = dropped["present"]
    rows = ~now.all(-1) if before is None else (now != before).any(-1)
    if not bool(rows.any()):
        return rel.new_zeros(())
    with torch.no_grad():
        teacher = model(
            complete["pose2d"][rows],
            complete["scale2d"][rows],
            complete["root_ray"][rows],
            None if gravity is None else gravity[rows],
            None if "present" not in complete else complete["present"][rows],
        ).pose
    teacher = teacher - teacher[:, :1]
    # Averaged over the whole batch, so the term's weight does not depend on the dropout share.
    return (rel[rows] - teacher).norm(dim=-1).mean() * rows.float().mean()


def _cycle_2d(u_back: torch.Tensor, target: dict[str, torch.Tensor]) -> torch.Tensor:
    """The 2D cycle term on the joints ``target`` has, in ``target``'s 2D frame (normalised
    over those joints), weighted by its confidences where it has them."""
    present = target.get("present")
    if present is None:
        return losses.cycle_2d(normalize_2d(u_back)[0], target["pose2d"], target.get("confidence"))
    weight = present.to(u_back)
    if "confidence" in target:
        weight = weight * target["confidence"].to(u_back)
    back = normalize_present(u_back, present)[0]
    return losses.cycle_2d(back, target["pose2d"], weight)


def _subset(data: dict[str, torch.Tensor], n: int, seed: int) -> dict[str, torch.Tensor]:
    size = len(next(iter(data.values())))
    if size <= n:
        return data
    idx = torch.randperm(size, generator=torch.Generator().manual_seed(seed))[:n]
    return {k: v[idx] for k, v in data.items()}


def train_liftnet(
    train: dict[str, np.ndarray],
    val: dict[str, np.ndarray],
    bone_mean: np.ndarray,
    flow: PoseFlow,
    config: LiftTrainingConfig,
    checkpoint: Path | None = None,
    resume: bool = False,
) -> tuple[LiftNet, FitResult]:
    """Train LiftNet with the frozen flow prior; validation 3D metrics are for monitoring only."""
    config.validate()
    seed_everything(config.loop.seed)  # initial weights are part of a reproducible run
    model = LiftNet(config.model, bone_mean)
    flow = flow.eval()
    for parameter in flow.parameters():
        parameter.requires_grad_(False)
    train_t = lift_tensors(train)
    # 3D ground truth rides along with the subset only to monitor validation error.
    val_t = _subset(
        {**lift_tensors(val), "pose3d": torch.as_tensor(val["pose3d_cam"])},
        config.validation_samples,
        config.loop.seed,
    )
    val_gt = val_t.pop("pose3d").numpy()
    val_generator_seed = config.loop.seed + 1

    def loss_fn(model, batch, generator):
        flow.to(batch["pose2d"].device)
        return cycle_terms(
            model, flow, batch, generator, config.losses, config.cycle, config.noise, config.dropout
        )

    def validate_fn(model):
        device = next(model.parameters()).device
        flow.to(device)
        batch = {k: v.to(device) for k, v in val_t.items()}
        generator = torch.Generator().manual_seed(val_generator_seed)
        terms = cycle_terms(model, flow, batch, generator, config.losses, config.cycle)
        pred = predict_poses(model, val_t)
        return {
            "loss": float(terms["total"]),
            "n_mpjpe": float(joint_errors(pred, val_gt, "scale").mean()),
            "pa_mpjpe": float(joint_errors(pred, val_gt, "procrustes").mean()),
        }

    meta = {
        "name": f"liftnet ({config.model.camera_model})",  # Rich would read [..] as markup
        "model": config.model.to_dict(),
        "losses": asdict(config.losses),
        "cycle": asdict(config.cycle),
        "noise": asdict(config.noise),
        "dropout": asdict(config.dropout),
        "samples": len(train_t["pose2d"]),
    }
    result = fit(
        model,
        train_t,
        loss_fn,
        validate_fn,
        config.loop,
        checkpoint=checkpoint,
        resume=resume,
        meta=meta,
        inputs={"prior": flow.state_dict()},  # a resumed run must keep the prior it started with
    )
    model.load_state_dict(result.best_state)
    return model.eval().cpu(), result


def training_config(params: dict[str, Any]) -> LiftTrainingConfig:
    """``LiftTrainingConfig`` from the ``liftnet`` parameter group (unknown keys rejected)."""
    return from_params(LiftTrainingConfig, params, "liftnet")
