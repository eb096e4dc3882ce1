"""Detector keypoint layouts mapped to the Human3.6M 17 joints."""

from __future__ import annotations

import numpy as np
import pytest

from epoch_kedro.keypoints import (
    HEAD_TOP,
    LAYOUTS,
    MARGIN,
    SAME_COUNT,
    UndecidedLayout,
    guess_layout,
    layout_of,
    mapping,
    to_h36m,
)
from epoch_kedro.skeleton import JOINT_INDEX, JOINT_NAMES

_DERIVED = ("Hip", "Spine", "Thorax", "Head")
_COPIED = [j for j in JOINT_NAMES if j not in _DERIVED]
_BODY25 = SAME_COUNT[25]


def _across(v: np.ndarray) -> np.ndarray:
    """``v`` turned a quarter turn in the image plane."""
    return np.stack([-v[..., 1], v[..., 0]], -1)


def _named_points(kp17: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Where a detector would put each keypoint name of any layout, for H36M 2D poses
    ``(N, 17, 2)``: the joints both skeletons have exactly, the rest at plausible places near
    them. The eyes sit halfway from the nose to the head joint and the top of the head as far
    above it, so the two head recipes (eyes; eyes and top of head) both have a known answer."""

    def at(joint: str) -> np.ndarray:
        return kp17[:, JOINT_INDEX[joint]]

    side, up = at("RShoulder") - at("LShoulder"), at("Head") - at("Neck")
    nose, eyes, top = at("Neck"), at("Neck") + 0.5 * up, at("Head") + 0.5 * up
    size = np.linalg.norm(up, axis=-1, keepdims=True)
    points = {n: at(n) for n in JOINT_NAMES if n[0] in "LR" and not n.endswith("Foot")}
    # OpenPose's and HALPE's "Neck" is the base of the neck; HALPE's "Hip" the pelvis centre
    # and its "Head" the top of the head, as BODY_25B's "HeadTop".
    points |= {"Nose": nose, "Neck": at("Thorax"), "MidHip": at("Hip"), "Hip": at("Hip"),
               "UpperNeck": 0.5 * (at("Thorax") + nose), "HeadTop": top, "Head": top}  # fmt: skip
    for i in range(68):
        turn = 2 * np.pi * i / 68
        points[f"Face{i}"] = nose + 0.4 * size * np.array([np.cos(turn), np.sin(turn)])
    for s, sign in (("L", -1.0), ("R", 1.0)):
        ankle, wrist = at(s + "Foot"), at(s + "Wrist")
        shin, hand = ankle - at(s + "Knee"), wrist - at(s + "Elbow")
        toe = ankle + 0.1 * shin + 0.35 * _across(shin)
        points |= {
            s + "Ankle": ankle, s + "Eye": eyes + 0.12 * sign * side,
            s + "EyeInner": eyes + 0.06 * sign * side, s + "EyeOuter": eyes + 0.18 * sign * side,
            s + "Ear": eyes + 0.3 * sign * side - 0.2 * up,
            f"Mouth{'Left' if s == 'L' else 'Right'}": nose - 0.3 * up + 0.08 * sign * side,
            s + "BigToe": toe, s + "FootIndex": toe, s + "SmallToe": toe + 0.1 * sign * side,
            s + "Heel": ankle + 0.12 * shin - 0.1 * _across(shin),
            s + "Thumb": wrist + 0.3 * hand + 0.1 * sign * side, s + "Index": wrist + 0.4 * hand,
            s + "Pinky": wrist + 0.35 * hand - 0.1 * sign * side,
        }  # fmt: skip
        for k, name in enumerate(n for n in LAYOUTS["coco_wholebody"] if n.startswith("LHand")):
            jitter = 0.05 * size * rng.standard_normal(wrist.shape)
            points[s + name[1:]] = wrist + 0.025 * k * hand + jitter
    return points


def _in_layout(kp17: np.ndarray, layout: str, rng: np.random.Generator) -> np.ndarray:
    """What a detector of ``layout`` would report for H36M 2D poses ``(N, 17, 2)``."""
    if layout == "h36m":
        return kp17.copy()
    points = _named_points(kp17, rng)
    return np.stack([points[name] for name in LAYOUTS[layout]], 1)


def _expected_derived(kp: np.ndarray, layout: str) -> dict[str, np.ndarray]:
    """The derived joints as docs/KEYPOINTS.md describes them, from ``layout``'s keypoints."""
    index = {name: k for k, name in enumerate(LAYOUTS[layout])}

    def mid(a: str, b: str) -> np.ndarray:
        return 0.5 * (kp[:, index[a]] + kp[:, index[b]])

    pelvis, thorax, eyes = mid("LHip", "RHip"), mid("LShoulder", "RShoulder"), mid("LEye", "REye")
    head = 0.5 * (eyes + kp[:, index[HEAD_TOP[layout]]]) if layout in HEAD_TOP else eyes
    return {"Hip": pelvis, "Spine": 0.5 * (pelvis + thorax), "Thorax": thorax, "Head": head}


def test_new_layouts_follow_the_published_keypoint_orders():
    # OpenPose's POSE_BODY_25B_BODY_PARTS, mmpose's halpe26 and coco_wholebody dataset infos.
    b25b, halpe, whole = LAYOUTS["openpose25b"], LAYOUTS["halpe26"], LAYOUTS["coco_wholebody"]
    assert b25b[:17] == halpe[:17] == whole[:17] == LAYOUTS["coco17"]
    assert b25b[17:] == ("UpperNeck", "HeadTop", "LBigToe", "LSmallToe", "LHeel",
                         "RBigToe", "RSmallToe", "RHeel")  # fmt: skip
    assert halpe[17:] == ("Head", "Neck", "Hip", "LBigToe", "RBigToe", "LSmallToe",
                          "RSmallToe", "LHeel", "RHeel")  # fmt: skip
    assert whole[17:23] == ("LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel")
    assert (whole[23], whole[90], whole[91], whole[112], whole[132]) == (
        "Face0", "Face67", "LHandRoot", "RHandRoot", "RHandPinky4",
    )  # fmt: skip
    assert len(set(whole)) == len(whole) == 133


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_every_joint_is_a_weighted_mean_of_keypoints(layout):
    weights = mapping(layout)
    assert weights.shape == (17, len(LAYOUTS[layout]))
    np.testing.assert_allclose(weights.sum(1), 1.0)  # so the map commutes with translation
    assert (weights >= 0).all()


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_conversion_recovers_shared_joints_exactly_and_derives_the_rest(layout, synthetic_small):
    rng = np.random.default_rng(0)
    kp17 = synthetic_small["kp2d"][::7].astype(np.float64)
    converted = to_h36m(_in_layout(kp17, layout, rng), layout)
    assert converted.usable.all() and all(r is None for r in converted.reasons)
    copied = [JOINT_INDEX[j] for j in _COPIED]
    np.testing.assert_allclose(converted.keypoints[:, copied], kp17[:, copied], atol=1e-6)
    # Pelvis, spine and thorax are midpoints of hips and shoulders: on the synthetic skeleton
    # within 3 cm of the true joints, under 5 % of the body's 2D extent. The eyes alone put the
    # head some 6 cm low: up to 10 % of a crouching body's extent.
    extent = np.ptp(kp17, axis=1).max(-1)
    for joint, bound in zip(_DERIVED, (0.05, 0.05, 0.05, 0.1), strict=True):
        j = JOINT_INDEX[joint]
        error = np.linalg.norm(converted.keypoints[:, j] - kp17[:, j], axis=-1)
        assert (error / extent).max() < bound, joint


@pytest.mark.parametrize("layout", sorted(set(LAYOUTS) - {"h36m"}))
def test_derived_joints_follow_the_documented_recipe(layout, synthetic_small):
    kp = _in_layout(synthetic_small["kp2d"][::5].astype(np.float64), layout,
                    np.random.default_rng(2))  # fmt: skip
    converted = to_h36m(kp, layout)
    for joint, expected in _expected_derived(kp, layout).items():
        np.testing.assert_allclose(converted.keypoints[:, JOINT_INDEX[joint]], expected,
                                   atol=1e-6, err_msg=joint)  # fmt: skip
    # Only the layouts with a top-of-head keypoint place the head joint exactly.
    head = converted.keypoints[:, JOINT_INDEX["Head"]]
    truth = synthetic_small["kp2d"][::5, JOINT_INDEX["Head"]]
    assert np.allclose(head, truth, atol=1e-3) == (layout in HEAD_TOP)


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
    assert layout_of(17) == "coco17" and layout_of(18) == "openpose18"
    assert layout_of(26) == "halpe26" and layout_of(33) == "mediapipe"
    assert layout_of(133) == "coco_wholebody"
    with pytest.raises(ValueError, match=r"25 keypoints are openpose25 or openpose25b; only"):
        layout_of(25)  # never BODY_25 by count alone
    with pytest.raises(ValueError, match=r"16 keypoints match no known layout; expected 17"):
        layout_of(16)
    with pytest.raises(ValueError, match=r"openpose25 and openpose25b: expected keypoints"):
        guess_layout(np.zeros((2, 17, 3)), _BODY25)
    with pytest.raises(ValueError, match=r"unknown keypoint layout 'alphapose'"):
        mapping("alphapose")
    with pytest.raises(ValueError, match=r"coco17 keypoints: expected shape \(N, 17, 2 or 3\)"):
        to_h36m(np.zeros((4, 18, 2)), "coco17")


_UPPER = {"Nose", "Neck", "UpperNeck", "HeadTop", *(s + p for s in "LR" for p in (
    "Eye", "Ear", "Shoulder", "Elbow", "Wrist"))}  # fmt: skip


def _occluded(kp: np.ndarray, layout: str, seen: str, rng: np.random.Generator) -> np.ndarray:
    """``kp`` with a confidence column: 0 (OpenPose's "not detected") outside what is ``seen``."""
    names = np.array(LAYOUTS[layout])
    upper = np.isin(names, list(_UPPER))
    conf = np.ones(kp.shape[:2])
    if seen == "upper body":
        conf[:, ~upper] = 0.0
    elif seen == "lower body":
        conf[:, upper] = 0.0
    elif seen == "a third missing":
        conf *= rng.random(conf.shape) > 1 / 3
    return np.concatenate([np.where(conf[..., None] > 0, kp, 0.0), conf[..., None]], -1)


@pytest.mark.parametrize("seen", ["everything", "upper body", "lower body", "a third missing"])
@pytest.mark.parametrize("truth", _BODY25)
def test_body25_and_body25b_are_told_apart_by_their_keypoints(truth, seen, synthetic_small):
    rng = np.random.default_rng(3)
    kp17 = synthetic_small["kp2d"].astype(np.float64)
    kp = _occluded(_in_layout(kp17, truth, rng), truth, seen, rng)
    guess = guess_layout(kp, _BODY25)
    assert guess.layout == truth and guess.ratio >= MARGIN
    assert layout_of(25, kp) == truth
    # A mirror image (a person seen from behind) is as easy: the rule looks at lengths only.
    mirrored = kp * np.array([-1.0, 1.0, 1.0])
    assert guess_layout(mirrored, _BODY25).layout == truth


def test_body25b_keypoints_are_never_mapped_in_body25_order(synthetic_small):
    kp17 = synthetic_small["kp2d"][::3].astype(np.float64)
    kp = _in_layout(kp17, "openpose25b", np.random.default_rng(4))
    # Read in BODY_25's order they would make a scrambled skeleton ...
    scrambled = to_h36m(kp, "openpose25").keypoints
    copied = [JOINT_INDEX[j] for j in _COPIED]
    assert not np.allclose(scrambled[:, copied], kp17[:, copied], atol=1.0)
    # ... so the order is taken from the keypoints, and the joints come back right.
    layout = layout_of(25, kp)
    assert layout == "openpose25b"
    np.testing.assert_allclose(to_h36m(kp, layout).keypoints[:, copied], kp17[:, copied],
                               atol=1e-6)  # fmt: skip


@pytest.mark.parametrize(
    "case", ["all at one point", "all missing", "all confidence 0", "two keypoints seen"]
)
def test_keypoints_that_cannot_tell_body25_from_body25b_are_refused(case):
    kp = np.full((6, 25, 3), 1.0)
    kp[..., :2] = 250.0
    if case == "all missing":
        kp[..., :2] = np.nan
    elif case == "all confidence 0":
        kp[..., :2], kp[..., 2] = np.random.default_rng(5).uniform(0, 500, (6, 25, 2)), 0.0
    elif case == "two keypoints seen":
        kp[..., 2] = 0.0
        kp[:, :2] = [[100.0, 100.0, 1.0], [140.0, 100.0, 1.0]]
    with pytest.raises(UndecidedLayout, match=r"^[^\n]+$"):
        guess_layout(kp, _BODY25)
    with pytest.raises(ValueError):
        layout_of(25, kp)
