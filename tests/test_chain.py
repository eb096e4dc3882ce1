"""The chain: RegNet's outputs as LiftNet inputs, with one pooled camera per video."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from epoch_kedro.chain import (
    generate_inputs,
    pool_camera,
    video_ids,
    video_keys,
    with_video_camera,
)
from epoch_kedro.data.normalize import dataset_statistics, to_model_input
from epoch_kedro.data.synthetic.render import RenderConfig, render_dataset
from epoch_kedro.geometry import rays
from epoch_kedro.models.regnet import RegNet, RegNetConfig
from epoch_kedro.training.regnet import ImageSet


def test_video_ids_separate_every_video_key():
    split = {
        "subject": np.array(["S1", "S1", "S1", "S9"]),
        "action": np.array(["walk", "walk", "walk", "walk"]),
        "sequence": np.array([0, 0, 1, 0]),
        "camera": np.array([2, 3, 2, 2]),
    }
    ids = video_ids(split)
    assert len(set(ids.tolist())) == 4


def test_pool_camera_gives_a_video_its_median_focal_and_mean_gravity():
    K = np.tile(np.array([[1000.0, 0, 500], [0, 1000, 500], [0, 0, 1]]), (4, 1, 1))
    K[:3, 0, 0] = K[:3, 1, 1] = [900.0, 1000.0, 5000.0]  # an outlier frame in video 0
    gravity = np.array([[0, 1.0, 0], [0, 1.0, 0.2], [0, 1.0, -0.2], [1.0, 0, 0]])
    pooled_K, pooled_g = pool_camera(K, gravity, np.array([0, 0, 0, 1]))
    np.testing.assert_allclose(pooled_K[:3, 0, 0], 1000.0)  # the median ignores the outlier
    np.testing.assert_allclose(pooled_K[:3, 1, 1], 1000.0)
    np.testing.assert_allclose(pooled_g[:3], [[0, 1, 0]] * 3, atol=1e-12)
    np.testing.assert_allclose(pooled_K[3], K[3])  # another video keeps its own camera
    assert K[2, 0, 0] == 5000.0  # inputs are not modified


@pytest.fixture(scope="module")
def chain_setup(synthetic_small):
    data = {**synthetic_small, "sample_id": np.arange(len(synthetic_small["kp2d"]))}
    split = to_model_input(data)
    rows = np.arange(0, len(split["kp2d"]), 7)
    images, K = render_dataset(data, rows, RenderConfig(size=32))
    torch.manual_seed(0)
    model = RegNet(
        RegNetConfig(image_size=32, widths=(8, 16, 32), hidden=32),
        dataset_statistics(split)["bone_length_mean"],
    ).eval()
    return split, ImageSet(images, {"sample_id": rows, "K": K}), model


def test_generate_inputs_pools_the_camera_per_video(chain_setup):
    split, image_set, model = chain_setup
    out = generate_inputs(split, image_set, model, batch_size=16, camera_pooling="video")
    assert len(out["kp2d"]) == len(image_set.images)
    ids = video_ids(out)
    for video in np.unique(ids):
        focal = out["K"][ids == video, 0, 0]
        np.testing.assert_allclose(focal, focal[0], rtol=1e-6)
    assert np.ptp(out["K_frame"][:, 0, 0]) > 0  # per-frame estimates are kept beside
    assert {"kp2d_gt", "K_gt", "gravity_gt", "confidence", "pose3d_regnet"} <= set(out)
    per_frame = generate_inputs(split, image_set, model, batch_size=16, camera_pooling="frame")
    np.testing.assert_allclose(per_frame["K"], out["K_frame"], rtol=1e-6)


def test_generate_inputs_rejects_an_unknown_pooling(chain_setup):
    split, image_set, model = chain_setup
    with pytest.raises(ValueError, match="camera_pooling='sequence'"):
        generate_inputs(split, image_set, model, camera_pooling="sequence")


def test_with_video_camera_spreads_the_pooled_camera_to_every_frame(chain_setup):
    split, image_set, model = chain_setup
    generated = generate_inputs(split, image_set, model, batch_size=16)
    out = with_video_camera(split, generated)
    seen = set(video_keys(generated).tolist())
    keys = video_keys(split)
    assert len(out["kp2d"]) == sum(k in seen for k in keys.tolist()) > len(generated["kp2d"])
    np.testing.assert_array_equal(out["kp2d"], split["kp2d"][np.isin(keys, list(seen))])
    gen_ids, out_ids = video_keys(generated), video_keys(out)
    for video in seen:
        focal = out["K"][out_ids == video, 0, 0]
        np.testing.assert_allclose(focal, generated["K"][gen_ids == video, 0, 0][0], rtol=1e-5)
    # the LiftNet inputs follow from the 2D labels and the new camera
    expected = rays(out["kp2d"].astype(np.float64), out["K"].astype(np.float64))
    np.testing.assert_allclose(out["rays"], expected, atol=1e-5)
    np.testing.assert_allclose(out["K_gt"], split["K"][np.isin(keys, list(seen))])
