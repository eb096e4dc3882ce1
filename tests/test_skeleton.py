"""The joint table is the one source of truth: check its internal consistency."""

import numpy as np

from epoch_kedro import skeleton as sk


def test_parents_precede_children_and_root_is_unique():
    assert sk.PARENTS[sk.ROOT] == -1
    assert all(0 <= p < j for j, p in enumerate(sk.PARENTS) if j != sk.ROOT)
    assert len(sk.PARENTS) == len(sk.JOINT_NAMES) == sk.NUM_JOINTS == 17


def test_bones_cover_every_non_root_joint_once():
    children = [c for _, c in sk.BONES]
    assert sorted(children) == list(range(1, sk.NUM_JOINTS))
    assert sk.NUM_BONES == 16 == len(sk.BONE_NAMES)


def test_flip_permutation_swaps_sides_and_is_an_involution():
    perm = np.array(sk.FLIP_PERMUTATION)
    assert np.array_equal(perm[perm], np.arange(sk.NUM_JOINTS))
    assert [perm[j] for j in sk.LEFT_JOINTS] == list(sk.RIGHT_JOINTS)
    assert all(perm[j] == j for j in (0, 7, 8, 9, 10))


def test_symmetric_bones_pair_left_with_right_names():
    for left, right in sk.SYMMETRIC_BONES:
        assert sk.BONE_NAMES[left].replace("L", "R") == sk.BONE_NAMES[right]


def test_h36m32_indices_match_the_documented_table():
    assert sk.H36M32_TO_17 == (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)
    assert max(sk.H36M32_TO_17) < sk.NUM_H36M32_JOINTS


def test_bone_lengths_numpy_and_torch_agree():
    import torch

    pose = np.random.default_rng(0).normal(size=(4, 17, 3))
    expected = np.stack(
        [np.linalg.norm(pose[:, c] - pose[:, p], axis=-1) for p, c in sk.BONES], axis=-1
    )
    np.testing.assert_allclose(sk.bone_lengths(pose), expected)
    np.testing.assert_allclose(sk.bone_lengths(torch.as_tensor(pose)).numpy(), expected)
