"""Stages that need images skip cleanly on datasets without them."""

from __future__ import annotations

import logging

import numpy as np

from epoch_kedro.pipelines.generate_inputs.nodes import generate_regnet_inputs
from epoch_kedro.pipelines.ingestion.nodes import cut_training_crops
from epoch_kedro.pipelines.liftnet.nodes import TEACHER_SKIPPED, train_elevation_teacher
from epoch_kedro.pipelines.regnet.nodes import (
    SKIPPED_KIND,
    train_localizer_model,
    train_regnet_model,
)

NO_IMAGES = np.zeros((0, 32, 32, 3), np.uint8)
NO_INDEX = {"sample_id": np.zeros(0, np.int64), "K": np.zeros((0, 3, 3), np.float32)}
H36M = {"kind": "h36m"}
RENDER = {"enabled": True, "size": 32, "crop_size": 32}


def test_regnet_and_generate_inputs_skip_without_images(synthetic_small, caplog) -> None:
    from epoch_kedro.data.normalize import to_model_input

    split = to_model_input(synthetic_small)
    with caplog.at_level(logging.INFO):
        crops, crop_index = cut_training_crops(synthetic_small, NO_INDEX, H36M, RENDER)
        localizer, localizer_history = train_localizer_model(split, split, NO_IMAGES, NO_INDEX, {})
        regnet = {"losses": {"teacher": 1.0}}
        teacher, teacher_history = train_elevation_teacher(
            split, split, crop_index, {}, {}, {}, {}, regnet
        )
        artifact, history = train_regnet_model(
            split, split, NO_IMAGES, NO_INDEX, crops, crop_index, {}, {}, teacher, regnet
        )
        generated = generate_regnet_inputs(
            split,
            split,
            split,
            synthetic_small,
            NO_IMAGES,
            NO_INDEX,
            localizer,
            artifact,
            {},
            H36M,
            RENDER,
        )
    assert crops.shape == (0, 32, 32, 3) and crop_index["box"].shape == (0, 3)
    assert artifact["kind"] == SKIPPED_KIND and history == []
    assert localizer["kind"] == SKIPPED_KIND and localizer_history == []
    assert teacher["kind"] == TEACHER_SKIPPED and teacher_history == []
    assert "elevation teacher is skipped: no crops" in caplog.text
    assert "RegNet skipped" in caplog.text and "generate_inputs skipped" in caplog.text
    assert "Localiser skipped" in caplog.text
    assert len(generated) == 4  # train, val, test, and test with label boxes
    for out in generated:
        assert len(out["kp2d"]) == 0
        assert {"kp2d_gt", "K_gt", "pose3d_regnet", "confidence", "box"} <= out.keys()
        assert out["pose3d_regnet"].shape == (0, 17, 3) and out["box"].shape == (0, 3)


def test_generate_inputs_skips_when_images_exist_but_no_crops_can_be_cut(synthetic_small):
    """Frames were rendered, but render.enabled=false now: no crop source, so no RegNet run."""
    from epoch_kedro.data.normalize import to_model_input

    split = to_model_input(synthetic_small)
    frames = np.zeros((2, 32, 32, 3), np.uint8)
    index = {"sample_id": np.arange(2), "K": np.zeros((2, 3, 3), np.float32)}
    generated = generate_regnet_inputs(
        split,
        split,
        split,
        synthetic_small,
        frames,
        index,
        {},
        {},
        {},
        {"kind": "synthetic"},
        {**RENDER, "enabled": False},
    )
    assert [len(out["kp2d"]) for out in generated] == [0, 0, 0, 0]
    assert all(out["box"].shape == (0, 3) for out in generated)
