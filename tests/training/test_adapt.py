"""Adaptation of a trained LiftNet to new 2D (training/adapt.py, api.adapt, the artifact)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from epoch_kedro import api
from epoch_kedro.data.normalize import dataset_statistics, to_model_input
from epoch_kedro.inference.lifting import (
    EVERY_FIELD,
    every_field,
    input_sample,
    lift_tensors,
    mirror_inputs,
)
from epoch_kedro.models.artifacts import (
    adaptation_data,
    liftnet_from_artifact,
    liftnet_to_artifact,
    to_artifact,
)
from epoch_kedro.models.flow import FlowConfig
from epoch_kedro.models.liftnet import LiftNetConfig
from epoch_kedro.skeleton import JOINT_INDEX
from epoch_kedro.training import adapt as A
from epoch_kedro.training import liftnet as T
from epoch_kedro.training.flow import train_flow
from epoch_kedro.training.joint_dropout import JointDropout
from epoch_kedro.training.loop import LoopConfig

LOOP = LoopConfig(epochs=1, batch_size=64, lr=1e-3, seed=0, lr_decay=1.0)
FAST = A.AdaptConfig(steps=6, flow_steps=4, batch_size=32, eval_every=2, min_poses=20)


@pytest.fixture(scope="module")
def trained(synthetic_small):
    """(split, LiftNet loaded from an artifact with adaptation data, its flow)."""
    split = to_model_input(synthetic_small)
    stats = dataset_statistics(split)
    flow, _ = train_flow(
        split, split, stats, FlowConfig(n_components=12, blocks=2, hidden=32), LOOP
    )
    training = T.LiftTrainingConfig(
        model=LiftNetConfig(width=32, blocks=1),
        loop=LOOP,
        dropout=JointDropout(share=0.5),
        validation_samples=64,
    )
    model, result = T.train_liftnet(split, split, stats["bone_length_mean"], flow, training)
    artifact = to_artifact(model, "liftnet", result.history, result.training)
    artifact["adaptation"] = adaptation_data(
        to_artifact(flow, "pose_flow"), input_sample(split, 128)
    )
    return split, liftnet_from_artifact(artifact), flow


def _user(split, n=60):
    """``n`` poses of the split with the face joints missing, as LiftNet input tensors."""
    rows = {k: v[:n] for k, v in split.items()}
    present = np.ones((n, 17), bool)
    present[:, [JOINT_INDEX["Neck"], JOINT_INDEX["Head"]]] = False
    from epoch_kedro.inference.lifting import inputs_from_keypoints

    return inputs_from_keypoints(rows["kp2d"], rows["K"], rows.get("gravity"), present)


def test_adaptation_changes_a_copy_and_keeps_its_best_held_back_step(trained):
    split, model, _ = trained
    before = {k: v.clone() for k, v in model.state_dict().items()}
    adapted = A.adapt_model(model, _user(split), FAST, {"inputs": ["poses.json"]})
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    record = adapted.adapted
    assert record["inputs"] == ["poses.json"] and record["poses"] == 60
    assert record["held_back"] == 12 and record["steps"] == 6
    curve = record["curve"]
    assert [c["step"] for c in curve] == [0, 2, 4, 6]
    best = min(curve, key=lambda c: c["held_back_loss"])
    assert record["kept_step"] == best["step"]
    assert record["flow"]["steps"] == 4
    changed = any(not torch.equal(v, adapted.state_dict()[k]) for k, v in before.items())
    assert changed == (best["step"] != 0)
    # The adapted prior travels with the model; the replay sample is the same.
    assert torch.equal(adapted.adaptation["replay"]["pose2d"], model.adaptation["replay"]["pose2d"])
    assert adapted.adaptation["flow"]["kind"] == "pose_flow"


def test_an_adapted_model_saves_loads_and_adapts_again(trained, tmp_path):
    split, model, _ = trained
    kp = split["kp2d"][:40]
    adapted = api.adapt(model, kp, split["K"][:40], steps=2, config=replace(FAST, min_poses=20),
                        about={"inputs": ["a"]})  # fmt: skip
    path = tmp_path / "liftnet_adapted.pt"
    api.save_liftnet(adapted, path)
    loaded = api.load_liftnet(path, "cpu")
    assert loaded.adapted["inputs"] == ["a"] and loaded.adapted["steps"] == 2
    assert np.allclose(
        api.lift(loaded, kp, split["K"][:40]), api.lift(adapted, kp, split["K"][:40])
    )
    again = api.adapt(loaded, kp, split["K"][:40], steps=2, config=replace(FAST, min_poses=20))
    assert again.adapted["earlier"]["inputs"] == ["a"]


def test_too_few_poses_and_bad_settings_are_refused_in_one_line(trained):
    split, model, _ = trained
    with pytest.raises(ValueError, match=r"at least 50 poses \(adapt.min_poses\), got 30") as err:
        api.adapt(model, split["kp2d"][:30], split["K"][:30])
    assert "\n" not in str(err.value)
    for bad, name in ((dict(replay_share=1.0), "replay_share"), (dict(steps=-1), "steps"),
                      (dict(lr=0.0), "lr"), (dict(batch_size=0), "batch_size")):  # fmt: skip
        with pytest.raises(ValueError, match=f"adapt.{name}="):
            replace(FAST, **bad).validate()


def test_a_liftnet_without_adaptation_data_is_refused_clearly(tiny_liftnet_path, synthetic_small):
    split = to_model_input(synthetic_small)
    model = api.load_liftnet(tiny_liftnet_path, "cpu")
    with pytest.raises(ValueError, match=r"carries no adaptation data.*make run"):
        api.adapt(model, split["kp2d"][:60], split["K"][:60])


def test_completed_poses_keep_what_was_seen_and_fill_what_was_not(trained):
    split, model, _ = trained
    user = every_field(_user(split, 8))
    full = lift_tensors({k: v[:8] for k, v in split.items()})
    completed = A._complete(model, user)
    assert torch.isfinite(completed).all()
    seen = user["present"]
    # Seen joints keep their rays: completed poses differ from the truth only by the frame's
    # scale, which the two missing joints change; the shape of the seen joints is the same.
    for i in range(8):
        got, truth = completed[i][seen[i]], full["pose2d"][i][seen[i]]
        assert torch.allclose(got, truth * got.norm() / truth.norm(), atol=1e-4)
    assert not torch.allclose(completed[~seen], torch.zeros_like(completed[~seen]))


def test_the_replay_sample_has_every_field_of_a_batch(synthetic_small):
    split = to_model_input(synthetic_small)
    replay = input_sample(split, 10, seed=3)
    assert set(replay) == set(EVERY_FIELD)
    assert all(len(v) == 10 for v in replay.values())
    assert replay["present"].dtype == torch.bool and replay["present"].all()
    assert torch.equal(input_sample(split, 10, seed=3)["pose2d"], replay["pose2d"])
    assert len(input_sample(split, 10**6)["pose2d"]) == len(split["pose2d"])


def test_the_artifact_round_trip_keeps_the_adaptation_data(trained):
    _, model, _ = trained
    artifact = liftnet_to_artifact(model)
    assert set(artifact["adaptation"]) == {"flow", "replay"}
    assert artifact["training"]["dropout"]["share"] == 0.5
    assert "adapted" not in artifact


def test_the_devset_experiment_types_its_overrides_and_names_a_wrong_key():
    from tests.experiments.helpers import load_experiment

    experiment = load_experiment("adapt_devset")
    config = experiment.settings(["steps=5", "lr=1e-4", "bone_ratio=0.5"])
    assert (config.steps, config.lr, config.bone_ratio) == (5, 1e-4, 0.5)
    assert isinstance(config.steps, int) and isinstance(config.lr, float)
    with pytest.raises(SystemExit, match="--set step: not an adaptation setting"):
        experiment.settings(["step=5"])


def test_mirror_images_follow_their_poses_and_mirror_back(trained):
    split, _, _ = trained
    user = every_field(_user(split))
    both = A._with_mirrors(user)
    assert len(both["pose2d"]) == 2 * len(user["pose2d"])
    assert all(torch.equal(both[k][:60], user[k]) for k in user)
    back = mirror_inputs({k: v[60:] for k, v in both.items()})
    assert all(torch.allclose(back[k].float(), user[k].float()) for k in user)
    assert not torch.allclose(both["pose2d"][60:], user["pose2d"])


def test_adaptation_without_mirror_images_still_runs(trained):
    split, model, _ = trained
    adapted = A.adapt_model(model, _user(split), replace(FAST, mirror=False), {})
    assert adapted.adapted["config"]["mirror"] is False and adapted.adapted["held_back"] == 12
