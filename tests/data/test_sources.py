"""Dataset dispatch: kinds, protocol splits, frame strides, and a kind's test set."""

from __future__ import annotations

import numpy as np
import pytest

from epoch_kedro.data.sources import (
    dataset_name,
    frame_strides,
    load_source,
    resolve_splits,
)

SYNTHETIC_SPLITS = {"train": ["S1"], "val": ["S2"], "test": ["S9"]}


def test_resolve_splits_per_kind() -> None:
    assert resolve_splits(SYNTHETIC_SPLITS, {"kind": "synthetic"}) == SYNTHETIC_SPLITS
    h36m = resolve_splits(SYNTHETIC_SPLITS, {"kind": "h36m"})
    assert h36m["test"] == ["S9", "S11"] and "S1" in h36m["train"]
    assert resolve_splits(SYNTHETIC_SPLITS, {"kind": "mpi_inf_3dhp"})["test"] == ["TS6"]
    own = {"train": ["S1"], "val": ["S5"], "test": ["S9"]}
    assert resolve_splits(SYNTHETIC_SPLITS, {"kind": "h36m", "splits": own}) == own


def test_frame_strides_per_split() -> None:
    assert frame_strides({"frame_stride": 2}, SYNTHETIC_SPLITS) == {"S1": 2, "S2": 2, "S9": 2}
    per_split = frame_strides({"frame_stride": {"train": 5}}, SYNTHETIC_SPLITS)
    assert per_split == {"S1": 5, "S2": 1, "S9": 1}
    with pytest.raises(ValueError, match=r"unknown split\(s\) \['tests'\]"):
        frame_strides({"frame_stride": {"tests": 5}}, SYNTHETIC_SPLITS)
    with pytest.raises(ValueError, match=r"split 'train' must be an int >= 1, got 0"):
        frame_strides({"frame_stride": {"train": 0}}, SYNTHETIC_SPLITS)


def test_synthetic_frame_stride(small_config) -> None:
    params = {"seed": 7, "subjects": ["S1", "S9"], "sequences_per_action": 1,
              "frames_per_sequence": 12, "cameras": {"per_sequence": 2}}  # fmt: skip
    splits = {"train": ["S1"], "test": ["S9"]}
    data = load_source({"kind": "synthetic", "frame_stride": {"train": 4}}, params, splits)
    assert set(np.unique(data["frame"][data["subject"] == "S1"])) == {0, 4, 8}
    assert len(np.unique(data["frame"][data["subject"] == "S9"])) == 12


def test_real_kinds_need_a_root() -> None:
    with pytest.raises(ValueError, match=r"dataset.kind='h36m' needs dataset.root"):
        load_source({"kind": "h36m"}, {}, None)
    with pytest.raises(ValueError, match=r"dataset.kind='coco' is not supported"):
        load_source({"kind": "coco"}, {}, None)


def test_an_evaluate_only_dataset_has_a_test_split_alone() -> None:
    only = {"evaluate_only": True}
    assert resolve_splits(SYNTHETIC_SPLITS, {"kind": "h36m", **only}) == {"test": ["S9", "S11"]}
    tested = resolve_splits(SYNTHETIC_SPLITS, {"kind": "mpi_inf_3dhp", **only})
    assert tested == {"test": ["TS1", "TS2", "TS3", "TS4", "TS5", "TS6"]}
    assert resolve_splits(SYNTHETIC_SPLITS, {"kind": "synthetic", **only}) == {"test": ["S9"]}
    narrowed = {"kind": "mpi_inf_3dhp", "test_subjects": ["TS5"], **only}
    assert resolve_splits(SYNTHETIC_SPLITS, narrowed) == {"test": ["TS5"]}


def test_an_evaluate_only_synthetic_dataset_generates_its_test_subjects_alone() -> None:
    params = {"seed": 7, "subjects": ["S1", "S9"], "actions": ["walking"], "frames_per_sequence": 4,
              "sequences_per_action": 1, "cameras": {"per_sequence": 1}}  # fmt: skip
    everyone = load_source({"kind": "synthetic"}, params, {"train": ["S1"], "test": ["S9"]})
    tested = {"kind": "synthetic", "evaluate_only": True}
    alone = load_source(tested, params, {"test": ["S9"]})
    assert set(alone["subject"].tolist()) == {"S9"}
    # Each subject draws from its own random streams: S9 comes out the same either way.
    np.testing.assert_array_equal(alone["pose3d_world"], everyone["pose3d_world"][-4:])
    reseeded = load_source({**tested, "synthetic": {"seed": 8}}, params, {"test": ["S9"]})
    assert not np.allclose(reseeded["pose3d_world"], alone["pose3d_world"])
    assert dataset_name({**tested, "synthetic": {"seed": 8}}) == "synthetic (seed 8)"
    assert dataset_name({**tested, "name": "mine", "synthetic": {"seed": 8}}) == "mine"
