"""Stages that need images skip cleanly on datasets without them."""

from __future__ import annotations

import logging

import numpy as np

from epoch_kedro.pipelines.generate_inputs.nodes import generate_regnet_inputs
from epoch_kedro.pipelines.regnet.nodes import SKIPPED_KIND, train_regnet_model

NO_IMAGES = np.zeros((0, 32, 32, 3), np.uint8)
NO_INDEX = {"sample_id": np.zeros(0, np.int64), "K": np.zeros((0, 3, 3), np.float32)}


def test_regnet_and_generate_inputs_skip_without_images(synthetic_small, caplog) -> None:
    from epoch_kedro.data.normalize import to_model_input

    split = to_model_input(synthetic_small)
    with caplog.at_level(logging.INFO):
        artifact, history = train_regnet_model(split, split, NO_IMAGES, NO_INDEX, {}, {}, {})
        generated = generate_regnet_inputs(split, split, split, NO_IMAGES, NO_INDEX, artifact, {})
    assert artifact["kind"] == SKIPPED_KIND and history == []
    assert "RegNet skipped" in caplog.text and "generate_inputs skipped" in caplog.text
    for out in generated:
        assert len(out["kp2d"]) == 0
        assert {"kp2d_gt", "K_gt", "pose3d_regnet", "confidence"} <= out.keys()
        assert out["pose3d_regnet"].shape == (0, 17, 3)
