"""Detector keypoint layouts mapped to the Human3.6M 17 joints."""

from __future__ import annotations

import numpy as np
import pytest

from epoch_kedro.data.synthetic.body import SKULL_TOP
from epoch_kedro.geometry import project, world_to_camera
from epoch_kedro.keypoints import (
    EAR_WIDTH,
    EARS_TO_HEAD,
    HEAD_TOP,
    LAYOUTS,
    MARGIN,
    MIN_BODY_JOINTS,
    NOSE_ALONG,
    SAME_COUNT,
    TOP_TO_HEAD,
    UndecidedLayout,
    guess_layout,
    layout_of,
    mapping,
    to_h36m,
)
from epoch_kedro.skeleton import JOINT_INDEX, JOINT_NAMES, rest_pose

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


def test_missing_joints_are_masked_and_only_a_frame_without_its_pelvis_is_skipped(
    synthetic_small,
):
    rng = np.random.default_rng(1)
    kp = _in_layout(synthetic_small["kp2d"][:3].astype(np.float64), "coco17", rng)
    kp = np.concatenate([kp, np.ones((*kp.shape[:2], 1))], -1)
    # An uncertain eye and no ears to fall back on: the head is unknown, the rest is seen.
    kp[1, [LAYOUTS["coco17"].index(n) for n in ("LEye", "LEar", "REar")], 2] = 0.1
    kp[2, LAYOUTS["coco17"].index("RHip"), :2] = np.nan  # a missing hip: no pelvis
    converted = to_h36m(kp, "coco17", min_confidence=0.3)
    np.testing.assert_array_equal(converted.usable, [True, True, False])
    np.testing.assert_array_equal(converted.complete, [True, False, False])
    assert converted.reasons[:2] == (None, None)
    assert np.flatnonzero(~converted.present[1]).tolist() == [JOINT_INDEX["Head"]]
    assert converted.reasons[2].startswith("too little seen to lift (12 of 15 body joints; "
                                           "needs the pelvis (both hips) and 10)")  # fmt: skip
    assert converted.reasons[2].endswith("Hip, RHip, Spine")
    assert np.isnan(converted.keypoints[2, JOINT_INDEX["RHip"]]).all()
    assert np.isfinite(converted.keypoints[0]).all()


@pytest.mark.parametrize("hidden", [5, 6])
def test_a_frame_with_under_ten_body_joints_seen_is_skipped_with_how_much_was_seen(
    synthetic_small, hidden
):
    kp = _in_layout(synthetic_small["kp2d"][:1].astype(np.float64), "coco17",
                    np.random.default_rng(1))  # fmt: skip
    limbs = ("LWrist", "RWrist", "LElbow", "RElbow", "LAnkle", "RAnkle")[:hidden]
    kp[0, [LAYOUTS["coco17"].index(n) for n in limbs]] = np.nan
    converted = to_h36m(kp, "coco17")
    seen = 15 - hidden
    assert converted.usable[0] == (seen >= MIN_BODY_JOINTS)
    if seen < MIN_BODY_JOINTS:
        assert converted.reasons[0].startswith(f"too little seen to lift ({seen} of 15 body "
                                               "joints; needs 10)")  # fmt: skip
    assert to_h36m(kp, "coco17", min_body_joints=seen).usable[0]


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


# A person seen from behind: the face is not seen, so Head and Neck fall back on the ears, the
# top of the head and the shoulders (keypoints._fallbacks, docs/KEYPOINTS.md).

#: Where the synthetic skeleton's stand-ins sit at rest (body frame: x right, y forward, z up;
#: m): ears 2 cm above and 10 cm behind the nose joint, 7.5 cm to either side (half a head's
#: width); the top of the skull 10 cm above the head joint (synthetic.body.SKULL_TOP).
_REST = rest_pose()
_REST_STAND_INS = {
    "LEar": _REST[JOINT_INDEX["Neck"]] + np.array([-0.075, -0.10, 0.02]),
    "REar": _REST[JOINT_INDEX["Neck"]] + np.array([0.075, -0.10, 0.02]),
    "HeadTop": _REST[JOINT_INDEX["Head"]] + np.array([0.0, 0.0, SKULL_TOP]),
}
_FACE = ("Nose", "LEye", "REye")
_EARS = ("LEar", "REar")


def _head_frame(pose: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The head's frame from thorax, nose and head joints of ``(..., 17, 3)`` poses: origin
    (the thorax), size (thorax to head) and axes ``(..., 3, 3)`` (rows: right, forward, up)."""
    thorax, nose, head = (pose[..., JOINT_INDEX[j], :] for j in ("Thorax", "Neck", "Head"))
    size = np.linalg.norm(head - thorax, axis=-1)
    up = (head - thorax) / size[..., None]
    forward = (nose - thorax) - ((nose - thorax) * up).sum(-1, keepdims=True) * up
    forward /= np.linalg.norm(forward, axis=-1, keepdims=True)
    return thorax, size, np.stack([np.cross(forward, up), forward, up], -2)


def _stand_ins_3d(pose: np.ndarray) -> dict[str, np.ndarray]:
    """Ears and top of the head ``(..., 3)`` of ``(..., 17, 3)`` poses: where they are at rest,
    carried along with the head's frame and scaled with the head."""
    origin, size, axes = _head_frame(_REST)
    thorax, scale, frame = _head_frame(pose)
    coefficients = {k: axes @ (p - origin) / size for k, p in _REST_STAND_INS.items()}
    return {k: thorax + scale[..., None] * np.einsum("i,...ij->...j", c, frame)
            for k, c in coefficients.items()}  # fmt: skip


def _views(synthetic: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Camera-frame 2D of every synthetic frame: the 17 joints, the stand-ins, and how far the
    head faces away from the camera (1: straight away, -1: into it)."""
    X = world_to_camera(*(synthetic[k].astype(np.float64) for k in ("pose3d_world", "R", "t")))
    K = synthetic["K"].astype(np.float64)
    views = {k: project(p[:, None], K)[:, 0] for k, p in _stand_ins_3d(X).items()}
    return views | {"kp17": project(X, K), "away": _head_frame(X)[2][:, 1, 2]}


def _seen_from_behind(
    views: dict[str, np.ndarray], layout: str, unsure: tuple[str, ...] = _FACE
) -> tuple[np.ndarray, np.ndarray]:
    """``(N, K, 3)`` keypoints of ``layout`` of the frames facing away, and their true joints
    ``(N, 17, 2)``: the ``unsure`` keypoints at confidence 0.05 and 80 px off (where a guess at
    an unseen face might put them), everything else sure and in place."""
    back = views["away"] > 0.8
    kp = _in_layout(views["kp17"][back], layout, np.random.default_rng(6))
    index = {name: k for k, name in enumerate(LAYOUTS[layout])}
    for name in _EARS:
        kp[:, index[name]] = views[name][back]
    if layout in HEAD_TOP:
        kp[:, index[HEAD_TOP[layout]]] = views["HeadTop"][back]
    conf = np.ones(kp.shape[:2])
    columns = [index[name] for name in unsure]
    kp[:, columns] += 80.0
    conf[:, columns] = 0.05
    return np.concatenate([kp, conf[..., None]], -1), views["kp17"][back]


@pytest.fixture(scope="module")
def views(synthetic_small):
    return _views(synthetic_small)


_NECK_HEAD = [JOINT_INDEX["Neck"], JOINT_INDEX["Head"]]


def _errors(converted, truth: np.ndarray) -> np.ndarray:
    """``(N, 2)`` distance of Neck and Head from the truth, in head-to-pelvis lengths."""
    length = np.linalg.norm(truth[:, JOINT_INDEX["Head"]] - truth[:, JOINT_INDEX["Hip"]], axis=-1)
    miss = converted.keypoints[:, _NECK_HEAD] - truth[:, _NECK_HEAD]
    return np.linalg.norm(miss, axis=-1) / length[:, None]


def test_fallback_fractions_are_those_fitted_on_the_synthetic_skeleton(views):
    # The least-squares fit on frames facing away, as docs/KEYPOINTS.md reports it (1.64-1.72,
    # 0.47-0.50, 0.68, 0.48-0.50 over the test set and three larger ones).
    back = views["away"] > 0.5
    kp = views["kp17"][back]
    thorax, (head, nose) = kp[:, JOINT_INDEX["Thorax"]], (kp[:, JOINT_INDEX[j]] for j in
                                                          ("Head", "Neck"))  # fmt: skip
    weight = 1 / np.linalg.norm(head - kp[:, JOINT_INDEX["Hip"]], axis=-1, keepdims=True) ** 2

    def fit(target: np.ndarray, along: np.ndarray) -> float:
        return float((weight * target * along).sum() / (weight * along * along).sum())

    ears = 0.5 * (views["LEar"][back] + views["REar"][back])
    assert fit(head - thorax, ears - thorax) == pytest.approx(EARS_TO_HEAD, abs=0.1)
    shoulder = kp[:, JOINT_INDEX["LShoulder"]] - thorax
    assert fit(views["LEar"][back] - ears, shoulder) == pytest.approx(EAR_WIDTH, abs=0.05)
    top = views["HeadTop"][back]
    assert fit(head - thorax, top - thorax) == pytest.approx(TOP_TO_HEAD, abs=0.05)
    assert fit(nose - thorax, head - thorax) == pytest.approx(NOSE_ALONG, abs=0.05)


@pytest.mark.parametrize("ears", ["both", "left only", "right only"])
def test_a_person_seen_from_behind_is_usable_with_neck_and_head_from_ears_and_shoulders(
    ears, views
):
    unsure = _FACE + {"both": (), "left only": ("REar",), "right only": ("LEar",)}[ears]
    kp, truth = _seen_from_behind(views, "coco17", unsure)
    used = "REar" if ears == "right only" else "LEar"
    kp[:, LAYOUTS["coco17"].index(used), 2] = 0.7  # the least sure source used
    converted = to_h36m(kp, "coco17")
    assert len(kp) >= 100 and converted.usable.all()
    assert all(r is None for r in converted.reasons)
    assert converted.fallback[:, _NECK_HEAD].all() and converted.fallback.sum() == 2 * len(kp)
    assert converted.notes[0] == "placed without the face: Neck, Head"
    # The ears sit below the head joint, behind and beside it: within 15 % of the head-to-
    # pelvis length on every frame facing away (8 % typically; the ears' midpoint itself is
    # some 13 % off, and so is the nose joint put at the thorax-head midpoint).
    errors = _errors(converted, truth)
    assert np.median(errors) < 0.08 and errors.max() < 0.15, (np.median(errors), errors.max())
    np.testing.assert_allclose(converted.confidence[:, _NECK_HEAD], 0.7)


@pytest.mark.parametrize("layout", sorted(HEAD_TOP))
def test_the_top_of_the_head_places_the_head_joint_when_the_face_is_not_seen(layout, views):
    kp, truth = _seen_from_behind(views, layout, (*_FACE, *_EARS))
    converted = to_h36m(kp, layout)
    assert converted.usable.all() and converted.fallback[:, _NECK_HEAD].all()
    errors = _errors(converted, truth)
    # The thorax, the head joint and the top of the skull are nearly in line: within 4 %.
    assert errors[:, 1].max() < 0.04 and errors[:, 0].max() < 0.15, errors.max(0)
    # Without the top of the head, its ears (as in COCO) place it.
    kp, truth = _seen_from_behind(views, layout, (*_FACE, HEAD_TOP[layout]))
    ears = to_h36m(kp, layout)
    np.testing.assert_allclose(ears.keypoints, to_h36m(kp[:, :17], "coco17").keypoints)
    assert ears.usable.all() and _errors(ears, truth).max() < 0.15
    # Neither: lifted with Neck and Head missing (masked), not placed.
    kp, _ = _seen_from_behind(views, layout, (*_FACE, *_EARS, HEAD_TOP[layout]))
    neither = to_h36m(kp, layout)
    assert neither.usable.all() and not neither.present[:, _NECK_HEAD].any()


@pytest.mark.parametrize("layout", sorted(set(LAYOUTS) - {"h36m"}))
def test_a_face_seen_is_mapped_by_the_recipe_whatever_the_ears(layout, views):
    kp, _ = _seen_from_behind(views, layout, ())
    kp[..., :2] = _in_layout(views["kp17"], layout, np.random.default_rng(7))[: len(kp)]
    recipe = np.einsum("jk,nkd->njd", mapping(layout), kp[..., :2])
    index = {name: k for k, name in enumerate(LAYOUTS[layout])}
    for ears in ("sure", "unsure"):
        if ears == "unsure":
            kp[:, [index[name] for name in _EARS], 2] = 0.05
        converted = to_h36m(kp, layout)
        assert converted.usable.all() and not converted.fallback.any(), ears
        np.testing.assert_array_equal(converted.keypoints, recipe)
        assert all(note is None for note in converted.notes)


def test_a_person_with_neither_face_nor_ears_is_usable_with_neck_and_head_missing(views):
    kp, _ = _seen_from_behind(views, "coco17", (*_FACE, *_EARS))
    converted = to_h36m(kp, "coco17")
    assert converted.usable.all() and not converted.fallback.any()
    assert all(r is None for r in converted.reasons)
    assert np.isnan(converted.keypoints[:, _NECK_HEAD]).all()
    assert (converted.present.sum(-1) == 15).all() and not converted.complete.any()
    # Ears but a shoulder unsure: the fallback needs the thorax too; 12 body joints are seen.
    kp, _ = _seen_from_behind(views, "coco17", (*_FACE, "LShoulder"))
    converted = to_h36m(kp, "coco17")
    missing = {JOINT_NAMES[j] for j in np.flatnonzero(~converted.present[0])}
    assert converted.usable.all() and missing == {"Spine", "Thorax", "Neck", "Head", "LShoulder"}


def test_an_unsure_nose_alone_follows_the_head_from_the_eyes(views):
    kp, _ = _seen_from_behind(views, "coco17", ("Nose",))
    converted = to_h36m(kp, "coco17")
    assert converted.usable.all()
    np.testing.assert_array_equal(converted.fallback[:, _NECK_HEAD], [[True, False]] * len(kp))
    head, thorax = (converted.keypoints[:, JOINT_INDEX[j]] for j in ("Head", "Thorax"))
    np.testing.assert_allclose(converted.keypoints[:, JOINT_INDEX["Neck"]],
                               thorax + NOSE_ALONG * (head - thorax))  # fmt: skip


def test_to_h36m_refuses_a_threshold_outside_0_1_and_never_takes_a_zero_confidence_point():
    kp = np.zeros((1, 17, 3))
    kp[..., :2] = np.arange(34).reshape(17, 2) + 100.0
    kp[..., 2] = 0.9
    kp[0, JOINT_INDEX["RWrist"]] = 0.0  # a detector's "not found"
    converted = to_h36m(kp, "h36m", min_confidence=0.0)
    assert np.isnan(converted.keypoints[0, JOINT_INDEX["RWrist"]]).all()
    assert converted.confidence[0, JOINT_INDEX["RWrist"]] == 0.0
    assert np.isfinite(np.delete(converted.keypoints[0], JOINT_INDEX["RWrist"], 0)).all()
    for bad in (-0.1, 1.1, float("nan")):
        with pytest.raises(
            ValueError, match=r"min_confidence=.*: expected a confidence in \[0, 1\]"
        ):
            to_h36m(kp, "h36m", min_confidence=bad)
