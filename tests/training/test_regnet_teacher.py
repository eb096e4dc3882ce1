"""The elevation teacher: RegNet's camera elevation learnt from a LiftNet's elevation head."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from epoch_kedro.chain import prior_camera, with_prior_camera
from epoch_kedro.data.crops import training_crops
from epoch_kedro.data.images import ImageSet, image_rows
from epoch_kedro.data.normalize import dataset_statistics, to_model_input
from epoch_kedro.inference.lifting import head_elevation, inputs_from_keypoints
from epoch_kedro.inference.regnet import predict_regnet
from epoch_kedro.models.liftnet import LiftNet, LiftNetConfig
from epoch_kedro.models.regnet import RegNetConfig
from epoch_kedro.pipelines.liftnet.nodes import TEACHER_SKIPPED, train_elevation_teacher
from epoch_kedro.training import regnet as T
from epoch_kedro.training.loop import LoopConfig


@pytest.fixture(scope="module")
def setup(synthetic_small):
    data = {**synthetic_small, "sample_id": np.arange(len(synthetic_small["kp2d"]))}
    split = to_model_input(data)
    crops, index = training_crops(data, split["sample_id"], {"kind": "synthetic"},
                                  {"crop_size": 32, "noise_std": 2.0, "seed": 0})  # fmt: skip
    return split, ImageSet(crops, index), dataset_statistics(split)


def config(teacher: float) -> T.RegNetTrainingConfig:
    return T.RegNetTrainingConfig(
        model=RegNetConfig(image_size=32, widths=(8, 16, 32), hidden=64, context_widths=()),
        loop=LoopConfig(epochs=3, batch_size=64, lr=2e-3, lr_decay=1.0),
        losses=replace(T.RegNetLossWeights(), teacher=teacher),
        validation_samples=128,
    )


def test_the_prior_camera_reads_no_camera_label(setup):
    split, _, _ = setup
    out = with_prior_camera(split, 1.2)
    W, H = split["image_size"][:, 0], split["image_size"][:, 1]
    np.testing.assert_allclose(out["K"][:, 0, 0], 1.2 * W, rtol=1e-6)
    np.testing.assert_allclose(out["K"][:, 1, 1], 1.2 * W, rtol=1e-6)
    np.testing.assert_allclose(out["K"][:, :2, 2], np.stack([W / 2, H / 2], -1), rtol=1e-6)
    np.testing.assert_allclose(out["K"], prior_camera(split["image_size"], 1.2), rtol=1e-6)
    assert not out["gravity"].any() and np.isnan(out["elevation"]).all()  # gravity unknown
    np.testing.assert_array_equal(out["K_gt"], split["K"])
    np.testing.assert_array_equal(out["gravity_gt"], split["gravity"])
    np.testing.assert_array_equal(out["pose2d"].shape, split["pose2d"].shape)


def test_the_head_elevation_ignores_a_given_gravity(setup):
    split, _, stats = setup
    torch.manual_seed(0)
    model = LiftNet(LiftNetConfig(width=32, blocks=1), stats["bone_length_mean"])
    K = prior_camera(split["image_size"][:50], 1.2)
    hidden = inputs_from_keypoints(split["kp2d"][:50], K)
    given = inputs_from_keypoints(split["kp2d"][:50], K, split["gravity"][:50])
    elevation = head_elevation(model, hidden, batch_size=16)
    assert elevation.shape == (50,) and np.isfinite(elevation).all()
    np.testing.assert_allclose(head_elevation(model, given, batch_size=16), elevation, atol=1e-6)
    assert np.all(np.abs(elevation) <= np.pi / 2)


def test_the_teacher_term_pulls_regnet_elevation_to_its_targets(setup):
    split, crops, stats = setup
    bones = stats["bone_length_mean"]
    target = 0.4  # rad; the untrained head starts near 0 (the person upright, facing the camera)
    taught = {**split, T.TEACHER_FIELD: np.full(len(split["kp2d"]), target, np.float32)}
    seen = []
    real_terms = T.regnet_terms

    def recording(model, flow, batch, generator, weights):
        seen.append(set(batch))
        return real_terms(model, flow, batch, generator, weights)

    T.regnet_terms = recording
    try:
        with_teacher, result = T.train_regnet(taught, split, crops, bones, None, config(2.0))
    finally:
        T.regnet_terms = real_terms
    without, _ = T.train_regnet(split, split, crops, bones, None, config(0.0))
    # The teacher's targets are the only thing beyond the images and 2D labels in a batch.
    assert seen and all(keys - set(T.REGNET_INPUTS) == {"teacher"} for keys in seen)
    assert result.history[-1]["teacher"] < result.history[0]["teacher"]  # logged, and falling
    rows, img_rows = image_rows(split, crops.index)
    images, boxes = crops.images[img_rows], crops.index["box"][img_rows]

    def elevation(model):
        pred = predict_regnet(model, images, boxes, split["image_size"][rows])
        return np.arcsin(np.clip(pred["gravity"][:, 2], -1, 1))

    off = [np.median(np.abs(elevation(m) - target)) for m in (with_teacher, without)]
    assert off[0] < 0.05 < off[1] - 0.1, off


def test_a_teacher_weight_without_targets_is_one_clear_error(setup):
    split, crops, stats = setup
    with pytest.raises(ValueError, match=r"regnet\.losses\.teacher=1\.0 needs .*teacher_elevation"):
        T.train_regnet(split, split, crops, stats["bone_length_mean"], None, config(1.0))
    nan = {**split, T.TEACHER_FIELD: np.full(len(split["kp2d"]), np.nan, np.float32)}
    with pytest.raises(ValueError, match="a finite elevation per sample"):
        T.train_regnet(nan, split, crops, stats["bone_length_mean"], None, config(1.0))


def test_no_teacher_is_trained_when_regnet_does_not_use_it(setup, caplog):
    split, crops, _ = setup
    regnet = {"losses": {"teacher": 0.0}}
    with caplog.at_level("INFO"):
        artifact, history = train_elevation_teacher(
            split, split, crops.index, {}, {}, {}, {}, regnet
        )
    assert artifact["kind"] == TEACHER_SKIPPED and history == []
    assert "regnet.losses.teacher is 0" in caplog.text
