"""experiments/masked_joints.py scores a LiftNet with joints hidden, and a mask-less one refuses."""

from __future__ import annotations

import numpy as np

from epoch_kedro.data.normalize import to_model_input
from tests.experiments.helpers import load_experiment


def _experiment():
    return load_experiment("masked_joints")


def test_masks_hide_what_each_condition_names():
    masks = _experiment().masks(200, seed=0, most=3)
    assert masks["all"].all()
    assert (~masks["face"]).sum(-1).tolist() == [2] * 200 and not masks["face"][:, [9, 10]].any()
    limb = ~masks["limb_end"]
    assert (limb.sum(-1) == 1).all() and limb[:, [3, 6, 13, 16]].any(0).all()
    assert ((~masks["body_3_hidden"]).sum(-1) == 3).all() and masks["body_3_hidden"][:, :2].all()


def test_the_experiment_reports_each_condition(synthetic_small, tiny_liftnet_path, tmp_path):
    split = to_model_input({k: v[:40] for k, v in synthetic_small.items()})
    np.savez(tmp_path / "test.npz", **split)
    summary = _experiment().main(["--model", str(tiny_liftnet_path), "--split",
                                  str(tmp_path / "test.npz"), "--most", "2"])  # fmt: skip
    results = summary["results"]
    assert set(results) == {"all", "face", "limb_end", "body_1_hidden", "body_2_hidden"}
    assert np.isfinite([r["pa_mpjpe"] for r in results.values()]).all()
    assert results["face"]["added_mm"] == results["face"]["pa_mpjpe"] - results["all"]["pa_mpjpe"]
