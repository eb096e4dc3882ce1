"""The chain: boxes, crops and RegNet's outputs as LiftNet inputs, one pooled camera per video."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
import pytest
import torch

from epoch_kedro.chain import (
    ChainSettings,
    generate_inputs,
    video_ids,
    video_keys,
    with_video_camera,
)
from epoch_kedro.data.boxes import BoxConfig, boxes_from_keypoints
from epoch_kedro.data.images import ImageSet
from epoch_kedro.data.normalize import dataset_statistics, to_model_input
from epoch_kedro.data.synthetic.render import RendererConfig, render_crops, render_dataset
from epoch_kedro.geometry import pool_camera, rays
from epoch_kedro.inference.regnet import (
    CONFIDENCE_SCALE,
    find_boxes,
    flip_confidence,
    flip_test,
    predict_regnet,
)
from epoch_kedro.models.localizer import Localizer, LocalizerConfig
from epoch_kedro.models.regnet import RegNet, RegNetConfig
from tests.models.peaks import Peak


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


BOX = BoxConfig(min_size=30.0)


class RecordingCrops:
    """Rendered crops of the raw dataset's rows, recording every request."""

    def __init__(self, data: dict[str, np.ndarray]) -> None:
        self.render = partial(render_crops, data, config=RendererConfig(size=32, noise_std=0.0))
        self.calls: list[tuple[np.ndarray, np.ndarray]] = []

    def __call__(self, rows: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        self.calls.append((np.array(rows), np.array(boxes)))
        return self.render(rows, boxes)


@dataclass
class Chain:
    data: dict[str, np.ndarray]
    split: dict[str, np.ndarray]
    frames: ImageSet
    localizer: Localizer
    model: RegNet

    def crops(self) -> RecordingCrops:
        return RecordingCrops(self.data)

    def run(self, crop_fn=None, **settings) -> dict[str, np.ndarray]:
        crop_fn = self.crops() if crop_fn is None else crop_fn
        chosen = ChainSettings(**{"batch_size": 16, **settings})
        return generate_inputs(
            self.split, self.frames, crop_fn, self.localizer, self.model, chosen, BOX
        )


@pytest.fixture(scope="module")
def chain(synthetic_small) -> Chain:
    data = {**synthetic_small, "sample_id": np.arange(len(synthetic_small["kp2d"]))}
    split = to_model_input(data)
    rows = np.arange(0, len(split["kp2d"]), 7)
    frames, K = render_dataset(data, rows, RendererConfig(size=32))
    torch.manual_seed(0)
    localizer = Localizer(LocalizerConfig(image_size=32, widths=(8, 16, 32))).eval()
    model = RegNet(  # with a full-frame context: the chain must hand RegNet the frames too
        RegNetConfig(
            image_size=32, widths=(8, 16, 32), hidden=32, context_widths=(8, 16), context_size=32
        ),
        dataset_statistics(split)["bone_length_mean"],
    ).eval()
    return Chain(data, split, ImageSet(frames, {"sample_id": rows, "K": K}), localizer, model)


def test_generate_inputs_pools_the_camera_per_video(chain):
    out = chain.run(camera_pooling="video")
    assert len(out["kp2d"]) == len(chain.frames.images)
    ids = video_ids(out)
    for video in np.unique(ids):
        focal = out["K"][ids == video, 0, 0]
        np.testing.assert_allclose(focal, focal[0], rtol=1e-6)
    assert np.ptp(out["K_frame"][:, 0, 0]) > 0  # per-frame estimates are kept beside
    assert {"kp2d_gt", "K_gt", "gravity_gt", "confidence", "pose3d_regnet", "box"} <= set(out)
    assert out["box"].shape == (len(out["kp2d"]), 3)
    assert np.all((out["confidence"] > 0) & (out["confidence"] <= 1))
    np.testing.assert_array_equal(out["sample_id"], chain.frames.index["sample_id"])
    np.testing.assert_allclose(out["kp2d_gt"], chain.split["kp2d"][out["sample_id"]])
    per_frame = chain.run(camera_pooling="frame")
    np.testing.assert_allclose(per_frame["K"], out["K_frame"], rtol=1e-6)


def test_generate_inputs_rejects_unknown_settings(chain):
    with pytest.raises(ValueError, match="camera_pooling='sequence'"):
        chain.run(camera_pooling="sequence")
    with pytest.raises(ValueError, match="boxes='gt'"):
        chain.run(boxes="gt")


def test_label_boxes_come_from_the_2d_labels(chain):
    source = chain.crops()
    out = chain.run(source, boxes="label", refine=0)
    rows = out["sample_id"]
    expected = boxes_from_keypoints(
        chain.split["kp2d_observed"][rows], chain.split["visible"][rows], BOX
    )
    assert len(source.calls) == 1
    np.testing.assert_array_equal(source.calls[0][0], rows)  # the raw dataset's rows
    np.testing.assert_allclose(source.calls[0][1], expected, rtol=1e-6)
    np.testing.assert_allclose(out["box"], expected, rtol=1e-6)
    # The 2D LiftNet reads is RegNet's integral 2D on those crops (flip-test average), in
    # full-frame pixels.
    image_size = chain.split["image_size"][rows]
    crops = source.render(rows, expected)
    pred = flip_test(chain.model, crops, expected, image_size, frames=chain.frames.images)
    np.testing.assert_allclose(out["kp2d"], pred["kp2d_heat"], rtol=1e-4, atol=1e-2)
    np.testing.assert_allclose(out["K_frame"], pred["K"], rtol=1e-4)
    np.testing.assert_allclose(out["confidence"], flip_confidence(pred, expected), atol=1e-4)


def test_found_boxes_come_from_the_localiser_and_are_refined(chain):
    source = chain.crops()
    out = chain.run(source, boxes="found", refine=1)
    rows = out["sample_id"]
    found = find_boxes(chain.localizer, chain.frames.images, chain.split["image_size"][rows], BOX)
    assert len(source.calls) == 2
    np.testing.assert_allclose(source.calls[0][1], found, rtol=1e-5)
    # The second pass reads a box around the first pass's 2D; the output keeps that box.
    first = predict_regnet(
        chain.model,
        source.render(rows, found),
        found,
        chain.split["image_size"][rows],
        frames=chain.frames.images,
    )
    np.testing.assert_allclose(
        source.calls[1][1], boxes_from_keypoints(first["kp2d_heat"], None, BOX), rtol=1e-4
    )
    np.testing.assert_allclose(out["box"], source.calls[1][1], rtol=1e-6)


def test_flip_confidence_measures_agreement_with_the_mirrored_crop():
    torch.manual_seed(0)
    config = RegNetConfig(image_size=32, widths=(8, 16, 32), hidden=32, context_widths=())
    model = RegNet(config, np.full(16, 0.25))
    model.eval()
    crops = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    boxes = np.array([[400.0, 300.0, 64.0], [700.0, 200.0, 100.0]])
    size = np.array([[1000, 600], [1000, 600]])

    def confidence(cells):
        model.keypoints.heatmap = Peak(cells)
        return flip_confidence(flip_test(model, crops, boxes, size), boxes)

    # Every joint at the crop's vertical mid-line (the mass split between columns 3 and 4):
    # the mirrored crop puts it at the same frame pixel.
    symmetric = confidence([(2, 3), (2, 4)])
    assert symmetric.shape == (2, 17)
    np.testing.assert_allclose(symmetric, 1.0, atol=1e-5)
    # Off the mid-line, the mirrored crop disagrees by 24 px (box 0) and 37.5 px (box 1): far
    # more than 5 % of the box.
    assert confidence([(2, 5)]).max() < 1e-6
    # Columns 3, 4, 5: 2 crop pixels right of the mid-line, and 2 left in the mirrored crop.
    # The gap is 4 crop pixels, 1 / 8 of the box: exp(-(0.125 / 0.05) ** 2) in any box.
    near = confidence([(2, 3), (2, 4), (2, 5)])
    np.testing.assert_allclose(near, np.exp(-((0.125 / CONFIDENCE_SCALE) ** 2)), rtol=1e-3)


def test_with_video_camera_spreads_the_pooled_camera_to_every_frame(chain):
    split = chain.split
    generated = chain.run()
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
