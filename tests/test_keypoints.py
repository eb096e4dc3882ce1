"""Detector keypoint layouts mapped to the Human3.6M 17 joints."""

from __future__ import annotations

import numpy as np
import pytest

from epoch_kedro.keypoints import LAYOUTS, layout_of, mapping, to_h36m
from epoch_kedro.skeleton import JOINT_INDEX, JOINT_NAMES

# Layout names that are our joints under another name.
_SAME = {"LAnkle": "LFoot", "RAnkle": "RFoot", "Nose": "Neck"}
_COPIED = [j for j in JOINT_NAMES if j not in ("Hip", "Thorax", "Spine", "Head")]


def _in_layout(kp17: np.ndarray, layout: str, rng: np.random.Generator) -> np.ndarray:
    """What a detector of ``layout`` would report for H36M 2D poses ``(N, 17, 2)``: the
    joints it shares exactly, eyes either side of the head, anything else random."""
    if layout == "h36m":
        return kp17.copy()
    n = len(kp17)
    out = rng.uniform(0, 1000, size=(n, len(LAYOUTS[layout]), 2))
    side = kp17[:, JOINT_INDEX["RShoulder"]] - kp17[:, JOINT_INDEX["LShoulder"]]
    for k, name in enumerate(LAYOUTS[layout]):
        ours = _SAME.get(name, name)
        if ours in JOINT_INDEX and ours not in ("Hip", "Spine", "Thorax", "Head"):
            out[:, k] = kp17[:, JOINT_INDEX[ours]]
        elif name in ("LEye", "REye"):
            out[:, k] = kp17[:, JOINT_INDEX["Head"]] + (0.15 if name == "REye" else -0.15) * side
    return out


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_every_joint_is_a_weighted_mean_of_keypoints(layout):
    weights = mapping(layout)
    assert weights.shape == (17, len(LAYOUTS[layout]))
    np.testing.assert_allclose(weights.sum(1), 1.0)  # so the map commutes with translation
    assert (weights >= 0).all()


@pytest.mark.parametrize("layout", ["coco17", "openpose25", "openpose18", "mediapipe", "h36m"])
def test_conversion_recovers_shared_joints_exactly_and_derives_the_rest(layout, synthetic_small):
    rng = np.random.default_rng(0)
    kp17 = synthetic_small["kp2d"][::7].astype(np.float64)
    converted = to_h36m(_in_layout(kp17, layout, rng), layout)
    assert converted.usable.all() and all(r is None for r in converted.reasons)
    copied = [JOINT_INDEX[j] for j in [*_COPIED, "Head"]]
    np.testing.assert_allclose(converted.keypoints[:, copied], kp17[:, copied], atol=1e-3)
    # Pelvis, spine and thorax are midpoints of hips and shoulders: on the synthetic skeleton
    # they lie within 3 cm of the true joints: under 5 % of the body's 2D extent.
    extent = np.ptp(kp17, axis=1).max(-1)
    for joint in ("Hip", "Spine", "Thorax"):
        j = JOINT_INDEX[joint]
        error = np.linalg.norm(converted.keypoints[:, j] - kp17[:, j], axis=-1)
        assert (error / extent).max() < 0.05, joint


def test_low_confidence_or_missing_keypoints_skip_the_frame_with_a_reason(synthetic_small):
    rng = np.random.default_rng(1)
    kp = _in_layout(synthetic_small["kp2d"][:3].astype(np.float64), "coco17", rng)
    kp = np.concatenate([kp, np.ones((*kp.shape[:2], 1))], -1)
    kp[1, LAYOUTS["coco17"].index("LEye"), 2] = 0.1  # an uncertain eye: the head is unknown
    kp[2, LAYOUTS["coco17"].index("RHip"), :2] = np.nan  # a missing hip
    converted = to_h36m(kp, "coco17", min_confidence=0.3)
    np.testing.assert_array_equal(converted.usable, [True, False, False])
    assert converted.reasons[0] is None
    assert converted.reasons[1].endswith("confidence 0.3: Head")
    assert converted.reasons[2].endswith("Hip, RHip, Spine")
    assert np.isnan(converted.keypoints[2, JOINT_INDEX["RHip"]]).all()
    assert np.isfinite(converted.keypoints[0]).all()


def test_layouts_are_told_apart_by_keypoint_count_and_bad_input_is_named():
    assert layout_of(17) == "coco17" and layout_of(25) == "openpose25"
    assert layout_of(18) == "openpose18" and layout_of(33) == "mediapipe"
    with pytest.raises(ValueError, match=r"16 keypoints match no known layout; expected 17"):
        layout_of(16)
    with pytest.raises(ValueError, match=r"unknown keypoint layout 'alphapose'"):
        mapping("alphapose")
    with pytest.raises(ValueError, match=r"coco17 keypoints: expected shape \(N, 17, 2 or 3\)"):
        to_h36m(np.zeros((4, 18, 2)), "coco17")
