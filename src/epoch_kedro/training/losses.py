"""Loss terms of unsupervised lifting: cycle consistency, flow prior, anatomy, deformation.

All poses are ``(N, 17, 3)`` metres in camera coordinates; 2D poses are normalised
(root-centred, unit RMS) ``(N, 17, 2)``. Each function returns a scalar (batch mean).
"""

from __future__ import annotations

import torch

from epoch_kedro.skeleton import ELBOWS, JOINT_INDEX, KNEES, SYMMETRIC_BONES, bone_lengths

_LHIP, _RHIP = JOINT_INDEX["LHip"], JOINT_INDEX["RHip"]


def cycle_2d(
    pose2d_back: torch.Tensor, pose2d: torch.Tensor, weight: torch.Tensor | None = None
) -> torch.Tensor:
    """L1 between the re-projected cycle and the input 2D pose, optionally per-joint weighted.

    ``weight`` ``(B, J)`` (e.g. RegNet's flip-test confidences) lets uncertain joints of
    generated inputs count less; without it every joint counts the same.
    """
    error = (pose2d_back - pose2d).abs()
    if weight is None:
        return error.mean()
    weight = weight.to(error)[..., None]
    return (error * weight).sum() / (weight.sum() * error.shape[-1]).clamp_min(1e-9)


def cycle_3d(rel_back: torch.Tensor, rel: torch.Tensor) -> torch.Tensor:
    """Mean joint distance (m) between the rotated-back re-lift and the first lift."""
    return (rel_back - rel).norm(dim=-1).mean()


def bone_symmetry(pose: torch.Tensor) -> torch.Tensor:
    """Mean |log(left / right)| over the mirrored bone pairs."""
    bones = bone_lengths(pose).clamp_min(1e-6)
    left = bones[:, [pair[0] for pair in SYMMETRIC_BONES]]
    right = bones[:, [pair[1] for pair in SYMMETRIC_BONES]]
    return torch.log(left / right).abs().mean()


def bone_ratio(pose: torch.Tensor, bone_mean: torch.Tensor) -> torch.Tensor:
    """Mean relative deviation of bone proportions from the population's mean proportions."""
    bones = bone_lengths(pose)
    ratio = bones / bones.sum(-1, keepdim=True).clamp_min(1e-6)
    ref = bone_mean / bone_mean.sum()
    return ((ratio - ref).abs() / ref).mean()


def _hinge_sine(
    pose: torch.Tensor, chain: tuple[int, int, int], axis: torch.Tensor
) -> torch.Tensor:
    """Signed sine of the bend at the middle joint of ``chain`` about ``axis (N, 3)``: ``(N,)``."""
    upper, middle, lower = chain
    a = pose[:, middle] - pose[:, upper]
    b = pose[:, lower] - pose[:, middle]
    cross = torch.linalg.cross(a, b)
    return (cross * axis).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1)).clamp_min(1e-8)


def bending_limits(pose: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
    """Penalise knees and hanging-arm elbows bending the wrong way (hyper-extension).

    The hinge axis is the body's right axis (hips). Knees bend backwards; elbows bend forwards,
    which the hip axis only tells reliably while the upper arm hangs down, so the elbow term is
    weighted by how much the upper arm points along -up.
    """
    right = pose[:, _RHIP] - pose[:, _LHIP]
    right = right / right.norm(dim=-1, keepdim=True).clamp_min(1e-8)
    knees = sum(torch.relu(_hinge_sine(pose, chain, right)) for chain in KNEES)
    elbows = 0.0
    for chain in ELBOWS:
        upper = pose[:, chain[1]] - pose[:, chain[0]]
        hanging = torch.relu(-(upper * up).sum(-1) / upper.norm(dim=-1).clamp_min(1e-8))
        elbows = elbows + hanging * torch.relu(-_hinge_sine(pose, chain, right))
    return (knees + elbows).mean()


def pairwise_deformation(rel: torch.Tensor, rel_back: torch.Tensor) -> torch.Tensor:
    """The 3D difference between two samples must survive the rotation cycle (ElePose's term)."""
    partner = torch.roll(torch.arange(len(rel), device=rel.device), 1)
    before = rel - rel[partner]
    after = rel_back - rel_back[partner]
    return (before - after).norm(dim=-1).mean()


def flow_nll(flow, pose2d: torch.Tensor, cap: float = 10.0) -> torch.Tensor:
    """Per-dimension NLL of normalised 2D poses under the frozen prior, compressed above ``cap``.

    A degenerate pose (early in training) can score an NLL of 1e10; beyond ``cap`` the penalty
    grows logarithmically so one wild batch cannot blow the weights up, yet still has a slope.
    """
    nll = -flow.log_prob(pose2d) / flow.config.n_components
    return torch.where(nll > cap, cap + torch.log1p((nll - cap).clamp_min(0)), nll).mean()
