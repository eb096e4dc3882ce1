"""``liftnet.train_inputs``: which 2D pose and camera LiftNet trains on."""

from __future__ import annotations

import numpy as np
import pytest

from epoch_kedro.pipelines.liftnet.nodes import TRAIN_INPUTS, _training_inputs, train_lifter


def _split(n: int, focal: float, videos: int) -> dict[str, np.ndarray]:
    K = np.tile(np.array([[focal, 0, 500], [0, focal, 500], [0, 0, 1]], np.float32), (n, 1, 1))
    return {
        "subject": np.array(["S1"] * n),
        "action": np.array(["walking"] * n),
        "sequence": np.zeros(n, np.int64),
        "camera": np.arange(n) % videos,
        "kp2d": np.random.default_rng(n).uniform(300, 700, (n, 17, 2)).astype(np.float32),
        "K": K,
        "gravity": np.tile(np.array([0, 1, 0], np.float32), (n, 1)),
        "pose2d": np.zeros((n, 17, 2), np.float32),
    }


def test_each_source_picks_its_splits():
    truth = (_split(8, 1000.0, 2), _split(4, 1000.0, 2))
    generated = (_split(2, 1200.0, 1), _split(2, 1200.0, 1))  # RegNet saw only camera 0
    assert _training_inputs("ground_truth", truth, generated) is truth
    assert _training_inputs("regnet", truth, generated) is generated
    train, val = _training_inputs("regnet_camera", truth, generated)
    # camera 0's frames of the truth, with their 2D labels and RegNet's focal length
    assert len(train["kp2d"]) == 4 and len(val["kp2d"]) == 2
    np.testing.assert_array_equal(train["kp2d"], truth[0]["kp2d"][::2])
    np.testing.assert_allclose(train["K"][:, 0, 0], 1200.0)
    np.testing.assert_allclose(train["K_gt"][:, 0, 0], 1000.0)
    assert set(TRAIN_INPUTS) == {"ground_truth", "regnet", "regnet_camera"}


def test_an_unknown_source_is_named_in_the_error(synthetic_small):
    from epoch_kedro.data.normalize import to_model_input

    split = to_model_input(synthetic_small)
    with pytest.raises(ValueError, match=r"liftnet\.train_inputs='detections'"):
        train_lifter(split, split, split, split, {}, {}, {"train_inputs": "detections"})


def test_the_stage_refuses_a_split_that_is_not_a_model_input():
    """Checked before anything trains, as docs/PIPELINES.md says of every stage's input."""
    split = _split(4, 1000.0, 1)
    with pytest.raises(ValueError, match=r"dataset 'model_input_train': missing required"):
        train_lifter(split, split, split, split, {}, {}, {})


def test_the_replay_for_adaptation_is_the_true_camera_training_split(synthetic_small):
    """Whatever a LiftNet trains on, its artifact replays the synthetic training poses with
    their true cameras (held-out motions left out) when it is adapted."""
    from epoch_kedro.data.normalize import to_model_input
    from epoch_kedro.models.artifacts import to_artifact
    from epoch_kedro.models.flow import FlowConfig, PoseFlow
    from epoch_kedro.pipelines.liftnet.nodes import _adaptation

    train = to_model_input(synthetic_small)
    train["heldout_motion"] = np.arange(len(train["kp2d"])) % 4 == 0
    flow = PoseFlow(FlowConfig(n_components=4, blocks=1, hidden=8), np.zeros(34),
                    np.eye(4, 34), np.ones(4))  # fmt: skip
    data = _adaptation(to_artifact(flow, "pose_flow"), train)
    seen = ~train["heldout_motion"]
    assert len(data["replay"]["pose2d"]) == seen.sum()  # fewer than the sample's size
    np.testing.assert_allclose(data["replay"]["pose2d"].numpy(), train["pose2d"][seen], atol=1e-6)
    np.testing.assert_allclose(data["replay"]["gravity"].numpy(), train["gravity"][seen], atol=1e-6)
    assert data["flow"]["kind"] == "pose_flow"
