"""The keyframe motion families and the plausibility checks they are held to, geometrically."""

from __future__ import annotations

import numpy as np
import pytest

from epoch_kedro.data.synthetic.body import (
    REFERENCE_HEIGHT,
    forward_kinematics,
    sample_subject,
)
from epoch_kedro.data.synthetic.families import FAMILIES, Pose, direction, limb_angles
from epoch_kedro.data.synthetic.generate import animate, perform
from epoch_kedro.data.synthetic.library import ACTIONS, sample_clip
from epoch_kedro.data.synthetic.motions import LIMITS_HIGH, LIMITS_LOW, SCRIPTED, SIGNS
from epoch_kedro.data.synthetic.plausibility import (
    FLOOR_CLEARANCE,
    MASS_WEIGHTS,
    balance,
    balance_offset,
    centre_of_mass,
    self_intersecting,
    trunk_clearance,
)
from epoch_kedro.skeleton import JOINT_INDEX as J
from epoch_kedro.skeleton import reference_offsets, rest_pose

# Families whose clips stand on their feet and keep the centre of mass over them.
STANDING = ("freeform", "balancing", "crouching", "leaning", "reaching", "throwing", "swinging")


def _sequences(action: str, n: int, seed: int = 0):
    """``n`` sequences of ``action`` by varied subjects: (subject, clip-free world poses)."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        subject = sample_subject(f"S{i}", rng, proportion_std=0.03)
        yield subject, perform(subject, action, 40, 12.5, rng)


def test_the_library_is_far_broader_than_the_scripted_actions():
    assert len(FAMILIES) >= 12
    assert set(ACTIONS) == set(SCRIPTED) | set(FAMILIES)
    assert not set(SCRIPTED) & set(FAMILIES)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_family_clips_stay_within_the_ranges_of_motion_and_move(family):
    for seed in range(3):
        clip = sample_clip(family, frames=40, fps=12.5, rng=np.random.default_rng(seed))
        assert np.all(clip.angles >= LIMITS_LOW - 1e-9)
        assert np.all(clip.angles <= LIMITS_HIGH + 1e-9)
        assert np.ptp(clip.angles, axis=0).max() > 10.0, f"{family} barely moves"
        assert np.all(np.isfinite(clip.lean)) and np.all(clip.hop >= 0)


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_no_limb_passes_through_the_trunk_or_the_other_leg(action):
    for subject, pose in _sequences(action, 6):
        scale = subject.height / REFERENCE_HEIGHT
        assert not self_intersecting(pose, scale).any(), action


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_the_body_rests_on_the_floor_and_never_sinks_into_it(action):
    """The lowest skin (feet, knees, back...) touches the floor, lifted only by the clip's hop."""
    rng = np.random.default_rng(1)
    for i in range(4):
        subject = sample_subject(f"S{i}", rng)
        clip = sample_clip(action, 40, 12.5, rng)
        pose = animate(subject, clip, 12.5, rng)
        clearance = FLOOR_CLEARANCE * subject.height / REFERENCE_HEIGHT
        above = pose[..., 2] - clearance  # (T, 17): 0 where a joint's skin touches the floor
        np.testing.assert_allclose(above.min(-1), clip.hop, atol=1e-9, err_msg=action)


@pytest.mark.parametrize("family", STANDING)
def test_standing_families_keep_the_centre_of_mass_over_the_feet(family):
    rng = np.random.default_rng(3)
    subject = sample_subject("S1", rng)
    for _ in range(4):
        clip = sample_clip(family, 40, 12.5, rng)
        assert clip.balance and clip.anchor != "none"
        pose = animate(subject, clip, 12.5, np.random.default_rng(0))
        assert balance_offset(pose, clip.anchor).max() < 0.06 + 0.01, family


def test_balance_tips_a_falling_pose_back_over_its_support_rigidly():
    pose = rest_pose()[None].copy()
    pose[:, :, 2] -= pose[:, J["RFoot"], 2, None]  # stand on the floor
    tip = np.radians(25.0)  # rotate about the right ankle: a fall forward
    rot = np.array([[1, 0, 0], [0, np.cos(tip), np.sin(tip)], [0, -np.sin(tip), np.cos(tip)]])
    ankle = pose[:, J["RFoot"]]
    leaning = ankle[:, None] + (pose - ankle[:, None]) @ rot.T
    assert balance_offset(leaning, "R")[0] > 0.3
    fixed = balance(leaning, "R")
    assert balance_offset(fixed, "R")[0] == pytest.approx(0.06, abs=0.005)
    # The body pivots about the midfoot on the floor: the ankle above it barely moves.
    assert np.linalg.norm(fixed[0, J["RFoot"]] - leaning[0, J["RFoot"]]) < 0.03
    np.testing.assert_allclose(
        np.linalg.norm(fixed - fixed[:, :1], axis=-1),
        np.linalg.norm(leaning - leaning[:, :1], axis=-1),
        atol=1e-9,
    )


def test_centre_of_mass_sits_at_the_usual_height_when_standing():
    """Standing, the centre of mass sits a little above mid-height (the drawn subjects: 57-61 %)."""
    assert MASS_WEIGHTS.sum() == pytest.approx(1.0)
    subject = sample_subject("S1", np.random.default_rng(0))
    pose = forward_kinematics(subject.offsets, np.zeros((1, 17, 3)), np.eye(3)[None])[0]
    floor = pose[J["RFoot"], 2] - subject.ankle_height
    ratio = (centre_of_mass(pose)[2] - floor) / subject.height
    assert 0.52 < ratio < 0.60


def test_the_intersection_check_catches_an_arm_through_the_chest():
    body = forward_kinematics(reference_offsets(), np.zeros((1, 17, 3)), np.eye(3)[None])
    assert not self_intersecting(body, 1.0)[0]
    through = body.copy()
    # The left forearm pushed across the chest's core: elbow and wrist on the spine line.
    through[0, J["LElbow"]] = body[0, J["Spine"]] + [0.0, 0.02, 0.05]
    through[0, J["LWrist"]] = body[0, J["Spine"]] + [0.1, 0.02, 0.05]
    assert trunk_clearance(through, 1.0)[0] < 0
    assert self_intersecting(through, 1.0)[0]


@pytest.mark.parametrize("limb", ["LShoulder", "RShoulder", "LHip", "RHip"])
def test_limb_angles_aim_the_limb_where_asked(limb):
    """Round trip: any reachable direction (from angles within the limits) is reached again."""
    rng = np.random.default_rng(4)
    j, side = J[limb], limb[0]
    child = J[side + ("Elbow" if "Shoulder" in limb else "Knee")]

    def aim(flex: float, abd: float) -> np.ndarray:
        pose = Pose()
        pose.set(limb, flex=flex, abd=abd)
        angles = np.radians(pose.angles * SIGNS)[None]
        body = forward_kinematics(reference_offsets(), angles, np.eye(3)[None])[0]
        bone = body[child] - body[j]
        return bone / np.linalg.norm(bone)

    for _ in range(40):
        target = aim(*rng.uniform(LIMITS_LOW[j, :2], LIMITS_HIGH[j, :2]))
        flex, abd = limb_angles(limb, target)
        assert LIMITS_LOW[j, 0] <= flex <= LIMITS_HIGH[j, 0]
        assert LIMITS_LOW[j, 1] <= abd <= LIMITS_HIGH[j, 1]
        np.testing.assert_allclose(aim(flex, abd), target, atol=1e-6)
    # Out of reach (straight back, beyond the extension limit): clipped to the limits.
    flex, abd = limb_angles(limb, direction(180.0, 0.0, side))
    assert LIMITS_LOW[j, 0] <= flex <= LIMITS_HIGH[j, 0]


def test_body_proportions_vary_at_constant_height():
    rng = np.random.default_rng(0)
    subjects = [sample_subject(f"S{i}", rng, proportion_std=0.03) for i in range(200)]
    legs = np.array([np.linalg.norm(s.offsets[J["RKnee"]]) / s.height for s in subjects])
    assert 0.02 < legs.std() / legs.mean() < 0.06
    plain = sample_subject("S0", np.random.default_rng(0))
    assert plain.height == pytest.approx(subjects[0].height)
