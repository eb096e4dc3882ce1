"""Crop sources and the training crops: rendered for synthetic data, None without images."""

from __future__ import annotations

import numpy as np
import pytest

from epoch_kedro.data.boxes import BoxConfig, boxes_from_keypoints, jitter_boxes
from epoch_kedro.data.config import DatasetConfig, RenderConfig, dataset_config, render_config
from epoch_kedro.data.crops import crop_source, training_crops
from epoch_kedro.data.synthetic.render import RendererConfig, render_crops

SYNTHETIC = {"kind": "synthetic"}
RENDER = {
    "enabled": True,
    "size": 64,
    "crop_size": 24,
    "frame_stride": 4,
    "noise_std": 0.0,
    "seed": 5,
    "box": {"margin": 1.5, "jitter_shift": 0.05},
}


@pytest.fixture(scope="module")
def data(synthetic_small):
    return {**synthetic_small, "sample_id": np.arange(len(synthetic_small["kp2d"]))}


def test_render_parameters_are_typed_with_one_default_each():
    render = render_config(RENDER)
    assert render.box == BoxConfig(margin=1.5, jitter_shift=0.05)
    assert render_config({}).box == BoxConfig()
    assert render.crops() == RendererConfig(size=24, noise_std=0.0, seed=5)
    assert render.renderer() == RendererConfig(size=64, noise_std=0.0, seed=5)
    assert render_config({"size": 48}).crops().size == RenderConfig().crop_size == 128
    assert render_config(render) is render
    with pytest.raises(ValueError, match=r"render\.box: unknown parameter\(s\) \['side'\]"):
        render_config({"box": {"side": 3}})
    with pytest.raises(ValueError, match=r"render: unknown parameter\(s\) \['colour'\]"):
        render_config({"colour": 1})
    with pytest.raises(ValueError, match=r"render.crop_size='big': expected a number"):
        render_config({"crop_size": "big"})


def test_dataset_parameters_are_typed_and_unknown_keys_refused():
    config = dataset_config({"kind": "h36m", "root": "/data", "frame_stride": {"train": 5}})
    assert config == DatasetConfig(kind="h36m", root="/data", frame_stride={"train": 5})
    assert dataset_config({}) == DatasetConfig() and DatasetConfig().kind == "synthetic"
    with pytest.raises(ValueError, match=r"dataset: unknown parameter\(s\) \['rot'\]"):
        dataset_config({"kind": "h36m", "rot": "/data"})
    with pytest.raises(ValueError, match=r"cross_dataset.dataset.evaluate_only='yes'"):
        dataset_config({"evaluate_only": "yes"}, "cross_dataset.dataset")


def test_crop_source_renders_synthetic_crops(data):
    crop_fn = crop_source(data, SYNTHETIC, RENDER)
    rows = np.array([3, 40])
    boxes = boxes_from_keypoints(data["kp2d"][rows])
    crops = crop_fn(rows, boxes)
    assert crops.shape == (2, 24, 24, 3) and crops.dtype == np.uint8
    expected = render_crops(data, rows, boxes, render_config(RENDER).crops())
    np.testing.assert_array_equal(crops, expected)


def test_no_crop_source_without_images(data, tmp_path):
    assert crop_source(data, SYNTHETIC, {**RENDER, "enabled": False}) is None
    assert crop_source(data, {"kind": "h36m"}, RENDER) is None
    # MPI-INF-3DHP without its imageSequence/ directories.
    assert crop_source(data, {"kind": "mpi_inf_3dhp", "root": str(tmp_path)}, RENDER) is None


def test_training_crops_are_cut_at_jittered_label_boxes(data):
    ids = np.arange(0, len(data["kp2d"]), 11)
    crops, index = training_crops(data, ids, SYNTHETIC, RENDER)
    assert crops.shape == (len(ids), 24, 24, 3)
    np.testing.assert_array_equal(index["sample_id"], ids)
    config = render_config(RENDER).box
    labels = boxes_from_keypoints(data["kp2d"][ids], data["visible"][ids], config)
    np.testing.assert_allclose(index["box"], jitter_boxes(labels, ids, 5, config), rtol=1e-6)
    assert not np.allclose(index["box"], labels)  # jittered
    # The index stores boxes in float32: a pixel on an edge may round one grey level apart.
    redrawn = render_crops(data, ids, index["box"], render_config(RENDER).crops())
    difference = np.abs(crops.astype(int) - redrawn)
    assert difference.max() <= 1 and (difference > 0).mean() < 1e-4
    # A rerun, or a subset, gives the same crops for the same samples.
    again, again_index = training_crops(data, ids[2:5], SYNTHETIC, RENDER)
    np.testing.assert_array_equal(again, crops[2:5])
    np.testing.assert_allclose(again_index["box"], index["box"][2:5])


def test_training_crops_without_a_source_are_empty(data):
    crops, index = training_crops(data, np.arange(5), {"kind": "h36m"}, RENDER)
    assert crops.shape == (0, 24, 24, 3) and crops.dtype == np.uint8
    assert index["sample_id"].shape == (0,) and index["box"].shape == (0, 3)
    crops, index = training_crops(data, np.zeros(0, np.int64), SYNTHETIC, RENDER)
    assert crops.shape == (0, 24, 24, 3) and index["box"].shape == (0, 3)
