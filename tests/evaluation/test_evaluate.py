"""evaluate_setting: the metric reference (univ_annot3 where given), per activity and subject."""

from __future__ import annotations

import numpy as np

from epoch_kedro.evaluation.evaluate import evaluate_setting


def split_of(gt: np.ndarray, metric: np.ndarray | None = None) -> dict[str, np.ndarray]:
    n = len(gt)
    split = {
        "pose3d_cam": gt,
        "action": np.array(["Sitting", "Sports"] * (n // 2)),
        "subject": np.array(["TS1"] * (n // 2) + ["TS5"] * (n // 2)),
    }
    if metric is not None:
        split["pose3d_metric_cam"] = metric
    return split


def test_pck_and_auc_per_activity_against_the_metric_pose() -> None:
    rng = np.random.default_rng(0)
    gt = rng.normal(0, 0.3, (4, 17, 3)) + np.array([0.0, 0.0, 4.0])
    # Every non-root joint 98 mm off on "Sitting" rows, 198 mm off on "Sports" rows.
    offset = np.zeros((4, 17, 3))
    offset[0::2, 1:, 0], offset[1::2, 1:, 0] = 0.098, 0.198
    section = evaluate_setting(gt + offset, split_of(gt))
    sitting, sports = section["by_action"]["Sitting"], section["by_action"]["Sports"]
    root_share = 100 / 17  # the root is always exact after root alignment
    assert sitting["pck150"] == 100.0 and sports["pck150"] == round(root_share, 2)
    # AUC over 0, 5, ..., 150 mm: a 98 mm error is within 11 of the 31 thresholds (100..150).
    assert sitting["auc"] == round((16 * 11 / 31 + 1) / 17 * 100, 2)
    assert section["pck150"] == round((100 + root_share) / 2, 2)
    assert set(section["by_subject"]) == {"TS1", "TS5"}
    # With a separate metric reference the same prediction is scored against it instead.
    against_metric = evaluate_setting(gt + offset, split_of(gt, gt + offset))
    assert against_metric["mpjpe"] == 0.0 and against_metric["pck150"] == 100.0
