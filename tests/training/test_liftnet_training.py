"""LiftNet training on a small synthetic set: it learns, it resumes, it never sees 3D."""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import pytest
import torch

from epoch_kedro.data.normalize import dataset_statistics, to_model_input
from epoch_kedro.errors import CheckpointError
from epoch_kedro.evaluation.metrics import joint_errors
from epoch_kedro.inference.lifting import LIFT_INPUTS, lift_tensors, predict_poses
from epoch_kedro.models.artifacts import to_artifact
from epoch_kedro.models.flow import FlowConfig
from epoch_kedro.models.liftnet import LiftNetConfig
from epoch_kedro.training import joint_dropout
from epoch_kedro.training import liftnet as T
from epoch_kedro.training.flow import train_flow
from epoch_kedro.training.joint_dropout import JointDropout
from epoch_kedro.training.loop import LoopConfig
from epoch_kedro.utils.checkpoint import load_checkpoint, save_checkpoint

LOOP = LoopConfig(epochs=1, batch_size=64, lr=1e-3, seed=0, lr_decay=1.0)


@pytest.fixture(scope="module")
def setup(synthetic_small):
    split = to_model_input(synthetic_small)
    stats = dataset_statistics(split)
    flow, _ = train_flow(
        split,
        split,
        stats,
        FlowConfig(n_components=12, blocks=2, hidden=32),
        replace(LOOP, epochs=2),
    )
    return split, stats, flow


def config(epochs: int = 1, **model) -> T.LiftTrainingConfig:
    return T.LiftTrainingConfig(
        model=LiftNetConfig(width=64, blocks=1, **model),
        loop=replace(LOOP, epochs=epochs),
        validation_samples=128,
    )


def test_the_loss_batch_holds_no_3d_or_camera_labels(setup):
    split, _, _ = setup
    batch = lift_tensors(split)
    assert set(batch) == set(LIFT_INPUTS) == {"pose2d", "scale2d", "root_ray", "gravity"}
    for key in ("pose3d_cam", "pose3d_world", "R", "t", "K"):
        assert key not in batch


def test_a_few_epochs_lower_the_loss_and_give_metric_poses(setup):
    split, stats, flow = setup
    model, result = T.train_liftnet(split, split, stats["bone_length_mean"], flow, config(4))
    losses = [h["loss"] for h in result.history]
    assert losses[-1] < losses[0]
    pred = predict_poses(model, lift_tensors(split))
    assert pred.shape == (len(split["kp2d"]), 17, 3)
    assert np.isfinite(pred).all()
    depth = pred[:, 0, 2]
    assert 0.5 < np.median(depth) < 20.0  # metres, like the camera distances
    untrained = predict_poses(
        T.LiftNet(config().model, stats["bone_length_mean"]), lift_tensors(split)
    )
    gt = split["pose3d_cam"]
    assert (
        joint_errors(pred, gt, "procrustes").mean()
        < joint_errors(untrained, gt, "procrustes").mean()
    )


def test_loss_terms_switch_off_individually(setup):
    split, stats, flow = setup
    model = T.LiftNet(config().model, stats["bone_length_mean"])
    batch = {k: v[:32] for k, v in lift_tensors(split).items()}
    gen = torch.Generator().manual_seed(0)
    all_terms = T.cycle_terms(model, flow, batch, gen, T.LossWeights(), T.CycleConfig())
    assert set(all_terms) == {
        "flow",
        "cycle_2d",
        "cycle_3d",
        "symmetry",
        "bone_ratio",
        "bending",
        "deformation",
        "total",
    }
    only = T.cycle_terms(
        model, flow, batch, gen, T.LossWeights(flow=0, deformation=0), T.CycleConfig()
    )
    assert "flow" not in only and "deformation" not in only
    assert all(torch.isfinite(v) for v in all_terms.values())


def test_interrupted_training_resumes_to_the_same_weights(setup, tmp_path):
    split, stats, flow = setup
    bones = stats["bone_length_mean"]
    straight, straight_result = T.train_liftnet(split, split, bones, flow, config(2))
    ckpt = tmp_path / "last.pt"
    T.train_liftnet(split, split, bones, flow, config(1), checkpoint=ckpt)
    assert load_checkpoint(ckpt)["epoch"] == 0
    # The run "stopped" after epoch 1; resuming with the 2-epoch config continues it.
    with pytest.raises(CheckpointError, match=r"refusing to resume, model.use_gravity True -> "):
        T.train_liftnet(
            split, split, bones, flow, config(2, use_gravity=False), checkpoint=ckpt, resume=True
        )
    # The same settings on other data (one 2D coordinate moved) must not resume either.
    changed = {k: v.copy() for k, v in split.items()}
    changed["pose2d"][0, 3, 0] += 0.01
    with pytest.raises(CheckpointError, match=r"last\.pt: refusing to resume, the training data"):
        T.train_liftnet(changed, split, bones, flow, config(2), checkpoint=ckpt, resume=True)
    # Nor with another prior: a model of two priors is no model.
    other = copy.deepcopy(flow)
    with torch.no_grad():
        next(other.parameters()).add_(0.01)
    with pytest.raises(CheckpointError, match=r"refusing to resume, the prior it trains with"):
        T.train_liftnet(split, split, bones, other, config(2), checkpoint=ckpt, resume=True)
    resumed, result = T.train_liftnet(
        split, split, bones, flow, config(2), checkpoint=ckpt, resume=True
    )
    assert [h["epoch"] for h in result.history] == [1, 2]
    assert "inputs" not in result.training  # fingerprints stay out of the artifact
    for key, value in straight.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[key], value)
    # ... and the saved artifact is the same file, byte for byte (DVC hashes it).
    files = []
    for name, (model, record) in {"a": (straight, straight_result), "b": (resumed, result)}.items():
        save_checkpoint(to_artifact(model, "liftnet", record.history, record.training),
                        tmp_path / f"{name}.pt")  # fmt: skip
        files.append((tmp_path / f"{name}.pt").read_bytes())
    assert files[0] == files[1]


def test_joint_dropout_hides_joints_by_pattern_and_never_the_pelvis_or_hips():
    gen = torch.Generator().manual_seed(0)
    face = joint_dropout.hidden_joints(500, JointDropout(share=1.0, limb=0, random=0), gen)
    assert face[:, list(joint_dropout.FACE)].all() and face.sum() == 2 * 500
    limb = joint_dropout.hidden_joints(500, JointDropout(share=1.0, face=0, random=0), gen)
    assert (limb.sum(-1) == 1).all() and limb[:, list(joint_dropout.LIMB)].any(0).all()
    mixed = joint_dropout.hidden_joints(4000, JointDropout(share=0.5), gen)
    assert not mixed[:, list(joint_dropout.KEPT)].any()
    assert 0.4 < mixed.any(-1).float().mean() < 0.5  # a few random draws hide nothing
    assert not joint_dropout.hidden_joints(50, JointDropout(), gen).any()  # off by default


def test_dropped_joints_are_zeroed_masked_and_the_pose_renormalised(setup):
    split, _, _ = setup
    batch = {k: v[:64] for k, v in lift_tensors(split).items()}
    dropped = joint_dropout.drop_joints(batch, JointDropout(share=1.0), torch.Generator())
    hidden = ~dropped["present"]
    assert hidden.any() and (dropped["pose2d"][hidden] == 0).all()
    # The same rays: pose2d * scale is unchanged at every present joint.
    before = batch["pose2d"] * batch["scale2d"][:, None, None]
    after = dropped["pose2d"] * dropped["scale2d"][:, None, None]
    torch.testing.assert_close(after[~hidden], before[~hidden], atol=1e-6, rtol=1e-5)
    assert "present" not in batch  # the input batch is not modified


@pytest.mark.parametrize("score_hidden", [False, True])
def test_a_dropout_step_runs_and_joints_missing_from_the_data_do_not_count(setup, score_hidden):
    split, stats, flow = setup
    model = T.LiftNet(config().model, stats["bone_length_mean"]).train()
    batch = {k: v[:32] for k, v in lift_tensors(split).items()}
    batch = joint_dropout.drop_joints(batch, JointDropout(share=1.0), torch.Generator())
    weights, cycle = T.LossWeights(), T.CycleConfig()
    dropout = JointDropout(share=0.5, score_hidden=score_hidden)

    def terms(b):
        gen = torch.Generator().manual_seed(0)
        return T.cycle_terms(model, flow, b, gen, weights, cycle, None, dropout)

    first = terms(batch)
    first["total"].backward()
    assert all(torch.isfinite(v) for v in first.values())
    assert model.position_head.weight.grad.abs().sum() > 0
    moved = dict(batch, pose2d=torch.where(batch["present"][..., None], batch["pose2d"], 9.0))
    torch.testing.assert_close(terms(moved)["cycle_2d"], first["cycle_2d"])


def test_consistency_is_the_distance_from_the_partial_lift_to_the_complete_one(setup):
    split, stats, flow = setup
    model = T.LiftNet(config().model, stats["bone_length_mean"]).train()
    batch = {k: v[:32] for k, v in lift_tensors(split).items()}
    weights = T.LossWeights(consistency=1.0)
    cycle = T.CycleConfig(gravity_dropout=0.0)  # the generator's only draws are the dropout's
    dropout = JointDropout(share=1.0, face=0, random=0)  # one limb joint hidden in every pose
    terms = T.cycle_terms(model, flow, batch, torch.Generator().manual_seed(0), weights, cycle,
                          None, dropout)  # fmt: skip
    dropped = joint_dropout.drop_joints(batch, dropout, torch.Generator().manual_seed(0))

    def rel(b):
        pose = model(b["pose2d"], b["scale2d"], b["root_ray"], b["gravity"], b.get("present")).pose
        return pose - pose[:, :1]

    expected = (rel(dropped) - rel(batch)).norm(dim=-1).mean()
    torch.testing.assert_close(terms["consistency"], expected, rtol=1e-5, atol=1e-6)
    assert terms["consistency"] > 0
    # Nothing hidden, nothing to compare: no term (no dropout, or the weight at 0).
    assert "consistency" not in T.cycle_terms(model, flow, batch, torch.Generator(), weights, cycle)
    off = T.LossWeights()
    assert "consistency" not in T.cycle_terms(model, flow, batch, torch.Generator(), off, cycle,
                                              None, dropout)  # fmt: skip


def test_dropout_needs_the_presence_mask():
    bad = replace(config(presence_mask=False), dropout=JointDropout(share=0.5))
    with pytest.raises(ValueError, match=r"dropout\.share > 0 needs liftnet\.model\.presence"):
        bad.validate()
    with pytest.raises(ValueError, match=r"liftnet.dropout.share=1.5: expected a share"):
        replace(config(), dropout=JointDropout(share=1.5)).validate()
