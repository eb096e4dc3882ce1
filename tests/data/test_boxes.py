"""Person boxes: square, around the visible joints with a margin, jittered per sample id."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from epoch_kedro.data.boxes import (
    DEFAULT_BOX,
    BoxConfig,
    boxes_from_keypoints,
    jitter_boxes,
    relative_boxes,
)
from epoch_kedro.models.regnet import box_features


def poses(n: int = 5, seed: int = 0) -> np.ndarray:
    """``n`` random 17-joint 2D poses, taller than wide, around different frame positions."""
    rng = np.random.default_rng(seed)
    centre = rng.uniform(200, 800, (n, 1, 2))
    spread = rng.uniform(20, 200, (n, 1, 1)) * np.array([0.4, 1.0])
    return centre + spread * rng.uniform(-1, 1, (n, 17, 2))


def test_boxes_are_squares_around_the_joints_with_the_margin():
    kp = poses()
    boxes = boxes_from_keypoints(kp)
    assert boxes.shape == (5, 3)
    lo, hi = kp.min(1), kp.max(1)
    np.testing.assert_allclose(boxes[:, :2], (lo + hi) / 2)
    np.testing.assert_allclose(boxes[:, 2], DEFAULT_BOX.margin * (hi - lo).max(-1))
    half = boxes[:, None, 2:] / 2
    inside = np.abs(kp - boxes[:, None, :2]) <= half
    assert inside.all()
    # Along the longer side the extreme joints sit (margin - 1) / 2 of the extent from the edge.
    gap = (half[:, 0, 0] - np.abs(kp[..., 1] - boxes[:, None, 1]).max(1)) / (hi - lo)[:, 1]
    np.testing.assert_allclose(gap, (DEFAULT_BOX.margin - 1) / 2)


def test_invisible_joints_do_not_move_the_box():
    kp = poses(2)
    visible = np.ones((2, 17), bool)
    visible[:, 3] = False
    far = kp.copy()
    far[:, 3] = [5000.0, -3000.0]  # e.g. a joint projected far outside the frame
    np.testing.assert_allclose(
        boxes_from_keypoints(far, visible), boxes_from_keypoints(np.delete(kp, 3, axis=1))
    )
    # Without the mask the far joint would count.
    assert boxes_from_keypoints(far)[0, 2] > 5000
    # A pose with no visible joint falls back to all of its joints.
    none = np.zeros((2, 17), bool)
    np.testing.assert_allclose(boxes_from_keypoints(kp, none), boxes_from_keypoints(kp))


def test_a_person_seen_end_on_gets_the_minimum_size():
    kp = np.full((1, 17, 2), 300.0)
    kp[0, :, 0] += np.linspace(0, 4, 17)  # 4 px wide, 0 px tall
    box = boxes_from_keypoints(kp, config=BoxConfig(min_size=30.0))
    np.testing.assert_allclose(box, [[302.0, 300.0, 30.0]])
    assert boxes_from_keypoints(kp)[0, 2] == DEFAULT_BOX.min_size


@pytest.mark.parametrize("shape", [(17, 2), (2, 17, 3), (2, 17)])
def test_rejects_keypoints_of_the_wrong_shape(shape):
    with pytest.raises(ValueError, match=r"kp2d must have shape \(N, J, 2\)"):
        boxes_from_keypoints(np.zeros(shape))


def test_jitter_is_the_same_for_a_sample_whatever_its_batch():
    config = BoxConfig()
    boxes = boxes_from_keypoints(poses(6))
    ids = np.array([10, 11, 12, 13, 14, 15])
    whole = jitter_boxes(boxes, ids, 3, config)
    order = np.array([4, 1, 5])
    part = jitter_boxes(boxes[order], ids[order], 3, config)
    np.testing.assert_array_equal(part, whole[order])
    # Another seed, or the same box under another id, moves differently.
    assert not np.allclose(jitter_boxes(boxes, ids, 4, config), whole)
    same_box = np.repeat(boxes[:1], 2, 0)
    a, b = jitter_boxes(same_box, np.array([1, 2]), 3, config)
    assert not np.allclose(a, b)
    np.testing.assert_array_equal(boxes, boxes_from_keypoints(poses(6)))  # input untouched


def test_jitter_stays_within_the_configured_ranges():
    config = BoxConfig(jitter_scale=0.2, jitter_shift=0.1)
    boxes = np.tile([[500.0, 400.0, 200.0]], (500, 1))
    out = jitter_boxes(boxes, np.arange(500), 0, config)
    shift = (out[:, :2] - boxes[:, :2]) / boxes[:, 2:]
    assert np.abs(shift).max() <= 0.1 + 1e-12
    assert np.abs(shift).max() > 0.09  # the range is used, not a fraction of it
    log_scale = np.log(out[:, 2] / boxes[:, 2])
    assert np.abs(log_scale).max() <= 0.2 + 1e-12 and np.abs(log_scale).max() > 0.18
    assert abs(shift.mean()) < 0.01 and abs(log_scale.mean()) < 0.02  # unbiased
    still = jitter_boxes(boxes[:3], np.arange(3), 0, BoxConfig(jitter_scale=0, jitter_shift=0))
    np.testing.assert_array_equal(still, boxes[:3])


def test_relative_boxes_match_what_regnet_reads():
    boxes = np.array([[499.5, 299.5, 250.0], [0.0, 599.0, 100.0], [320.0, 10.0, 64.0]])
    size = np.array([[1000, 600], [1000, 600], [640, 480]])
    rel = relative_boxes(boxes, size)
    np.testing.assert_allclose(rel[0], [0.0, 0.0, 0.25], atol=1e-6)
    np.testing.assert_allclose(rel[1, :2], [-0.999, 0.99833333], atol=1e-6)
    np.testing.assert_allclose(
        rel, box_features(torch.as_tensor(boxes), torch.as_tensor(size)).numpy(), atol=1e-6
    )
