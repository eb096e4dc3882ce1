"""Inference: image preparation, localising, mirroring, RegNet on crops and its re-boxing pass."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from epoch_kedro.data.boxes import BoxConfig
from epoch_kedro.geometry import uncrop_pixels
from epoch_kedro.inference.regnet import (
    REGNET_OUTPUTS,
    find_boxes,
    flip_test,
    localize,
    mirror,
    predict_regnet,
    prepare_images,
    regnet_on_boxes,
    to_frame_pixels,
    unmirror_keypoints,
)
from epoch_kedro.models.localizer import Localizer, LocalizerConfig
from epoch_kedro.models.regnet import RegNet, RegNetConfig
from epoch_kedro.skeleton import FLIP_PERMUTATION, JOINT_INDEX
from tests.models.peaks import Peak

FRAMES = np.array([[1000, 600], [1000, 600], [640, 480]])
BOXES = np.array([[400.0, 300.0, 64.0], [900.0, 520.0, 300.0], [120.0, 80.0, 48.0]])


def regnet(peak: list[tuple[int, int]] | None = None) -> RegNet:
    torch.manual_seed(0)
    config = RegNetConfig(image_size=32, widths=(8, 16, 32), hidden=32, context_widths=())
    model = RegNet(config, np.full(16, 0.25))
    if peak is not None:
        model.keypoints.heatmap = Peak(peak)
    return model.eval()


def crops(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)


class RecordingCrops:
    """A crop source that records every request and returns random crops."""

    def __init__(self) -> None:
        self.calls: list[tuple[np.ndarray, np.ndarray]] = []

    def __call__(self, rows: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        self.calls.append((np.array(rows), np.array(boxes)))
        return crops(len(rows), seed=len(self.calls))


def test_prepare_images_scales_to_unit_range_channels_first():
    images = crops(2)
    x = prepare_images(torch.as_tensor(images))
    assert x.shape == (2, 3, 32, 32) and x.dtype == torch.float32
    assert x.is_contiguous(memory_format=torch.channels_last)
    assert float(x[1, 2, 5, 7]) == pytest.approx(images[1, 5, 7, 2] / 255.0)
    assert x.min() >= 0 and x.max() <= 1


def test_mirror_and_unmirror_round_trip():
    images = crops(3)
    mirrored, boxes = mirror(images, BOXES, FRAMES)
    np.testing.assert_array_equal(mirrored, images[:, :, ::-1])
    np.testing.assert_allclose(boxes[:, 0], FRAMES[:, 0] - 1 - BOXES[:, 0])
    np.testing.assert_allclose(boxes[:, 1:], BOXES[:, 1:])
    back, back_boxes = mirror(mirrored, boxes, FRAMES)
    np.testing.assert_array_equal(back, images)
    np.testing.assert_allclose(back_boxes, BOXES)
    kp = np.random.default_rng(1).uniform(0, 480, (3, 17, 2))
    # Keypoints seen in the mirrored frame: x mirrored, left and right joints swapped.
    seen = kp[:, list(FLIP_PERMUTATION)].copy()
    seen[..., 0] = FRAMES[:, None, 0] - 1 - seen[..., 0]
    np.testing.assert_allclose(unmirror_keypoints(seen, FRAMES), kp)
    np.testing.assert_allclose(unmirror_keypoints(unmirror_keypoints(kp, FRAMES), FRAMES), kp)
    left, right = JOINT_INDEX["LWrist"], JOINT_INDEX["RWrist"]
    np.testing.assert_allclose(unmirror_keypoints(kp, FRAMES)[:, left, 1], kp[:, right, 1])


def test_to_frame_pixels_maps_the_resized_frame_to_the_full_frame():
    size = np.array([[1000, 600]])
    kp = np.array([[[-0.5, -0.5], [31.5, 31.5], [15.5, 15.5]]])  # edges and centre, 32 px
    np.testing.assert_allclose(
        to_frame_pixels(kp, size, 32), [[[-0.5, -0.5], [999.5, 599.5], [499.5, 299.5]]]
    )


def test_find_boxes_places_the_box_where_the_localiser_sees_the_person():
    torch.manual_seed(0)
    model = Localizer(LocalizerConfig(image_size=32, widths=(8, 16, 32))).eval()
    model.keypoints.heatmap = Peak([(2, 5)])  # every joint at (21.5, 9.5) of the 32 px frame
    frames = crops(2)
    kp = localize(model, frames, batch_size=1)
    np.testing.assert_allclose(kp, np.broadcast_to([21.5, 9.5], (2, 17, 2)), atol=1e-5)
    size = np.array([[1000, 500], [640, 480]])
    boxes = find_boxes(model, frames, size, BoxConfig(min_size=30.0))
    # (21.5 + 0.5) * 1000 / 32 - 0.5 = 687; (9.5 + 0.5) * 500 / 32 - 0.5 = 155.75.
    np.testing.assert_allclose(boxes[0], [687.0, 155.75, 30.0], atol=1e-3)
    np.testing.assert_allclose(boxes[1], [439.5, 149.5, 30.0], atol=1e-3)


def test_predict_regnet_returns_every_output_whatever_the_batching():
    model, images = regnet(), crops(3)
    whole = predict_regnet(model, images, BOXES, FRAMES)
    pieces = predict_regnet(model, images, BOXES, FRAMES, batch_size=2)
    assert set(whole) == set(REGNET_OUTPUTS)
    for key in REGNET_OUTPUTS:
        np.testing.assert_allclose(whole[key], pieces[key], rtol=1e-4, atol=1e-3)
    assert whole["kp2d"].shape == (3, 17, 2) and whole["K"].shape == (3, 3, 3)
    assert whole["pose_cam"].shape == (3, 17, 3) and whole["gravity"].shape == (3, 3)
    empty = predict_regnet(model, images[:0], BOXES[:0], FRAMES[:0])
    assert empty["kp2d"].shape == (0, 17, 2) and empty["K"].shape == (0, 3, 3)
    assert empty["t"].shape == (0, 3) and empty["pose_cam"].shape == (0, 17, 3)


def test_the_flip_test_averages_the_crop_and_its_mirror_image():
    model, images = regnet(peak=[(2, 5)]), crops(3)  # every joint at crop pixel (21.5, 9.5)
    pred = flip_test(model, images, BOXES, FRAMES)
    plain = predict_regnet(model, images, BOXES, FRAMES)
    np.testing.assert_allclose(pred["kp2d_heat_single"], plain["kp2d_heat"], atol=1e-4)
    np.testing.assert_allclose(pred["K"], plain["K"], rtol=1e-5)
    # 6 crop pixels right of the box centre, 6 above; the mirror image reads it 6 to the left.
    step = BOXES[:, 2:3] / 32
    single = BOXES[:, :2] + 6 * step * [1, -1]
    mirrored = BOXES[:, :2] + 6 * step * [-1, -1]
    np.testing.assert_allclose(pred["kp2d_heat_single"][:, 0], single, atol=1e-3)
    np.testing.assert_allclose(pred["kp2d_heat_mirrored"][:, 0], mirrored, atol=1e-3)
    np.testing.assert_allclose(pred["kp2d_heat"][:, 0], (single + mirrored) / 2, atol=1e-3)
    # A joint on the crop's mid-line reads the same both ways.
    centred = flip_test(regnet(peak=[(2, 3), (2, 4)]), images, BOXES, FRAMES)
    np.testing.assert_allclose(
        centred["kp2d_heat_single"], centred["kp2d_heat_mirrored"], atol=1e-3
    )


def test_regnet_on_boxes_reads_a_new_crop_around_its_own_2d():
    model = regnet(peak=[(2, 5)])  # every joint at crop pixel (21.5, 9.5)
    rows = np.array([7, 3, 11])
    config = BoxConfig(min_size=40.0)
    source = RecordingCrops()
    pred, boxes = regnet_on_boxes(model, source, rows, BOXES, FRAMES, refine=1, config=config)
    assert len(source.calls) == 2
    np.testing.assert_array_equal(source.calls[0][0], rows)
    np.testing.assert_array_equal(source.calls[1][0], rows)
    np.testing.assert_allclose(source.calls[0][1], BOXES)
    # The second box is centred on the first pass's 2D (all joints at one point: min size).
    first = uncrop_pixels(np.broadcast_to([21.5, 9.5], (3, 1, 2)), BOXES, 32)[:, 0]
    np.testing.assert_allclose(source.calls[1][1][:, :2], first, atol=1e-3)
    np.testing.assert_allclose(source.calls[1][1][:, 2], 40.0)
    np.testing.assert_allclose(first[0], [412.0, 288.0], atol=1e-3)  # by hand: box 0
    np.testing.assert_allclose(boxes, source.calls[1][1])
    # RegNet's outputs are the flip test on the last box's crop.
    expected = flip_test(model, crops(3, seed=2), boxes, FRAMES)
    for key in ("kp2d_heat", "kp2d_heat_single", "kp2d_heat_mirrored", "K", "pose_cam"):
        np.testing.assert_allclose(pred[key], expected[key], rtol=1e-5, atol=1e-3)
    single = uncrop_pixels(np.broadcast_to([21.5, 9.5], (3, 1, 2)), boxes, 32)[:, 0]
    np.testing.assert_allclose(pred["kp2d_heat_single"][:, 0], single, atol=1e-3)


def test_regnet_on_boxes_without_refinement_reads_each_crop_once():
    model, source = regnet(), RecordingCrops()
    pred, boxes = regnet_on_boxes(model, source, np.arange(3), BOXES, FRAMES)
    assert len(source.calls) == 1
    np.testing.assert_allclose(boxes, BOXES)
    direct = flip_test(model, crops(3, seed=1), BOXES, FRAMES)
    for key in ("kp2d", "kp2d_heat", "K"):
        np.testing.assert_allclose(pred[key], direct[key], rtol=1e-5, atol=1e-3)
