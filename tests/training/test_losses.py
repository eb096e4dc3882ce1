"""Anatomical and cycle loss terms on hand-made poses."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from epoch_kedro import skeleton
from epoch_kedro.skeleton import JOINT_INDEX
from epoch_kedro.training import losses

J = JOINT_INDEX


def rest_pose() -> torch.Tensor:
    """The reference skeleton standing upright in a camera frame (y down, z forward).

    Body axes map to the camera as: right -> -x (the person faces the camera, so their right
    is on the image's left), up -> -y, forward -> -z; placed 4 m in front of the camera.
    """
    to_camera = np.array([[-1.0, 0, 0], [0, 0, -1.0], [0, -1.0, 0]])
    return torch.as_tensor(skeleton.rest_pose() @ to_camera.T + np.array([0.0, 0.0, 4.0]))[None]


UP = torch.tensor([[0.0, -1.0, 0.0]], dtype=torch.float64)


def bend(pose: torch.Tensor, joint: str, child: str, direction: torch.Tensor) -> torch.Tensor:
    """Swing the bone ``joint -> child`` (and its descendant) towards ``direction`` (unit)."""
    pose = pose.clone()
    length = (pose[0, J[child]] - pose[0, J[joint]]).norm()
    pose[0, J[child]] = pose[0, J[joint]] + length * direction
    return pose


def test_symmetric_reference_pose_has_zero_symmetry_and_ratio_loss():
    pose = rest_pose()
    from epoch_kedro.skeleton import bone_lengths

    assert losses.bone_symmetry(pose).item() < 1e-9
    assert losses.bone_ratio(pose, bone_lengths(pose)[0]).item() < 1e-9
    longer = pose.clone()
    longer[0, J["LFoot"], 1] += 0.2  # lengthen the left shin only
    assert losses.bone_symmetry(longer).item() > 0.01


def test_knee_bent_backwards_is_free_and_bent_forwards_is_penalised():
    pose = rest_pose()
    down_back = torch.tensor([0.0, 0.7071, 0.7071], dtype=torch.float64)  # shin to the back
    down_front = torch.tensor([0.0, 0.7071, -0.7071], dtype=torch.float64)  # hyper-extension
    natural = bend(pose, "LKnee", "LFoot", down_back)
    hyper = bend(pose, "LKnee", "LFoot", down_front)
    assert losses.bending_limits(natural, UP).item() < 1e-9
    assert losses.bending_limits(hyper, UP).item() > 0.5


def test_elbow_bent_backwards_while_hanging_is_penalised():
    pose = rest_pose()
    forearm_front = torch.tensor([0.0, 0.0, -1.0], dtype=torch.float64)  # towards the camera
    forearm_back = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)
    assert losses.bending_limits(bend(pose, "RElbow", "RWrist", forearm_front), UP) < 1e-9
    assert losses.bending_limits(bend(pose, "RElbow", "RWrist", forearm_back), UP) > 0.5


def test_cycle_terms_vanish_for_identical_inputs_and_grow_with_difference():
    pose = rest_pose().repeat(4, 1, 1)
    rel = pose - pose[:, :1]
    assert losses.cycle_3d(rel, rel).item() == 0.0
    assert losses.pairwise_deformation(rel, rel).item() == 0.0
    noisy = rel + 0.01 * torch.randn(
        rel.shape, generator=torch.Generator().manual_seed(0), dtype=rel.dtype
    )
    assert losses.cycle_3d(noisy, rel).item() > 0.005
    assert losses.pairwise_deformation(noisy, rel).item() > 0.005
    assert losses.cycle_2d(rel[..., :2], rel[..., :2]).item() == 0.0


def test_cycle_2d_weights_joints_by_confidence():
    target = torch.zeros(2, 17, 2)
    back = torch.zeros(2, 17, 2)
    back[:, 3] = 1.0  # one joint off by 1 in x and y
    assert losses.cycle_2d(back, target).item() == pytest.approx(1 / 17)
    weight = torch.ones(2, 17)
    assert losses.cycle_2d(back, target, weight).item() == pytest.approx(1 / 17)
    weight[:, 3] = 0.0  # an unreliable joint no longer counts
    assert losses.cycle_2d(back, target, weight).item() == 0.0
    weight[:, 3] = 2.0
    assert losses.cycle_2d(back, target, weight).item() == pytest.approx(2 / 18)


def test_flow_nll_is_compressed_above_the_cap():
    class FakeFlow:
        class config:
            n_components = 2

        def log_prob(self, x):
            return -2.0 * x  # per-dimension NLL = x

    values = torch.tensor([5.0, 1e10], requires_grad=True)
    per_sample = [losses.flow_nll(FakeFlow(), v[None]) for v in values]
    assert per_sample[0].item() == 5.0
    assert 30 < per_sample[1].item() < 40  # 10 + log(1 + 1e10 - 10)
    per_sample[1].backward()
    assert 0 < values.grad[1] < 1e-6  # still a (tiny) slope, never an explosion
