"""Every evaluated setting's per-sample poses on a test split, predicted once.

A *setting* is one model on one kind of input: each LiftNet on the split's true 2D and K
(``{name}_gt``), on the same 2D with detector-like errors (``{name}_noisy_2d``, where motions
were held out), and the EPOCH chain on the rendered test frames with its two mixed settings
that locate its error (``rendered_*``). The metrics (:mod:`~epoch_kedro.evaluation.sections`)
and the report are computed from these poses; nothing else predicts.

``metrics.json`` holds aggregates only; figures such as error vs camera distance need one value
per sample, so the evaluation stage keeps the poses and RegNet's camera in
``data/07_model_output/test_predictions.npz``. Rendered-frame arrays (``rendered_*``) are empty
when the dataset has no images.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np
import torch

from epoch_kedro.data.detector_noise import DetectorNoise, corrupt
from epoch_kedro.evaluation.evaluate import metric_pose
from epoch_kedro.inference.lifting import inputs_from_keypoints, lift_tensors, predict_poses
from epoch_kedro.models.liftnet import LiftNet
from epoch_kedro.skeleton import ROOT
from epoch_kedro.utils.config import from_params

Arrays = dict[str, np.ndarray]

#: The chain and the two mixed settings that locate its error (:func:`chain_inputs`), in order.
CHAIN_SETTINGS = (
    "liftnet_regnet",
    "liftnet_regnet_2d_true_camera",
    "liftnet_true_2d_regnet_camera",
    "liftnet_gt_rendered_frames",
)

#: The adapted LiftNets' settings (the ``adapt`` pipeline) and the artifacts they lift with.
ADAPTED_SETTINGS = {
    "liftnet_adapted_gt": "liftnet_adapted_model",
    "liftnet_weak_adapted_gt": "liftnet_weak_adapted_model",
    "liftnet_reference_adapted_gt": "liftnet_reference_adapted_model",
}


def rows_of(split: Arrays, sample_ids: np.ndarray) -> np.ndarray:
    """Row of each ``sample_id`` in ``split`` (every id must be present)."""
    order = np.argsort(split["sample_id"], kind="stable")
    pos = order[np.searchsorted(split["sample_id"][order], sample_ids)]
    if not np.array_equal(split["sample_id"][pos], sample_ids):
        raise ValueError("generated inputs hold samples that are not in the test split")
    return pos


def camera_fields(split: Arrays) -> Arrays:
    """Camera-to-root distance (m), focal length / image width and elevation (deg) per sample."""
    return {
        "distance_m": np.linalg.norm(split["pose3d_cam"][:, ROOT], axis=-1),
        "focal_ratio": split["K"][:, 0, 0] / split["image_size"][:, 0],
        "elevation_deg": np.rad2deg(split["elevation"]),
    }


def rendered_cameras(generated: Arrays | None) -> Arrays:
    """RegNet's own 3D and its camera beside the true one on the rendered test frames (empty
    arrays without them)."""
    if generated is None:
        empty = np.zeros(0, np.float32)
        return {"rendered_row": np.zeros(0, np.int64),
                "rendered_regnet_pose3d": np.zeros((0, 17, 3), np.float32),
                **dict.fromkeys(("rendered_focal_pred", "rendered_focal_gt",
                                 "rendered_elevation_pred_deg", "rendered_elevation_gt_deg"),
                                empty)}  # fmt: skip
    return {
        "rendered_regnet_pose3d": generated["pose3d_regnet"],
        "rendered_focal_pred": generated["K"][:, 0, 0],
        "rendered_focal_gt": generated["K_gt"][:, 0, 0],
        "rendered_elevation_pred_deg": np.rad2deg(generated["elevation"]),
        "rendered_elevation_gt_deg": np.rad2deg(generated["elevation_gt"]),
    }


def chain_inputs(generated: Arrays) -> dict[str, dict]:
    """LiftNet inputs of the chain and of the two mixed settings that locate its error."""
    return {
        "liftnet_regnet": lift_tensors(generated),
        "liftnet_regnet_2d_true_camera": inputs_from_keypoints(
            generated["kp2d"], generated["K_gt"], generated["gravity_gt"]
        ),
        "liftnet_true_2d_regnet_camera": inputs_from_keypoints(
            generated["kp2d_gt"], generated["K"], generated["gravity"]
        ),
        "liftnet_gt_rendered_frames": inputs_from_keypoints(
            generated["kp2d_gt"], generated["K_gt"], generated["gravity_gt"]
        ),
    }


def detector_noise(params: dict[str, Any] | None) -> tuple[DetectorNoise, int]:
    """``evaluation.detector_noise``: the noise on every sample, and the seed of its draw."""
    params = dict(params or {})
    seed = int(params.pop("seed", 0))
    return from_params(DetectorNoise, {**params, "share": 1.0}, "evaluation.detector_noise"), seed


def noise_settings(params: dict[str, Any] | None) -> dict:
    """The noise settings as ``metrics.json`` records them."""
    noise, seed = detector_noise(params)
    return {**asdict(noise), "seed": seed}


def _noisy(inputs: dict, params: dict[str, Any] | None) -> dict:
    """LiftNet inputs with detector-like errors on every sample (``evaluation.detector_noise``;
    its ``seed`` fixes the draw)."""
    noise, seed = detector_noise(params)
    noise.validate()
    return corrupt(inputs, noise, torch.Generator().manual_seed(seed))


def liftnet_predictions(test: Arrays, models: dict[str, LiftNet], noise: dict | None) -> Arrays:
    """Each LiftNet on the test split's true inputs and, where motions were held out, on the
    same 2D with detector-like errors."""
    inputs = lift_tensors(test)
    out = {f"{name}_gt": predict_poses(model, inputs) for name, model in models.items()}
    if test.get("heldout_motion", np.zeros(0, bool)).any():
        noisy = _noisy(inputs, noise)
        for name in ("liftnet", "liftnet_reference"):
            out[f"{name}_noisy_2d"] = predict_poses(models[name], noisy)
    return out


def chain_predictions(
    test: Arrays, generated: Arrays, labelled: Arrays, models: dict[str, LiftNet]
) -> Arrays:
    """The chain's settings on the rendered test frames (``rendered_*``, rows of the test split
    in ``rendered_row``) and with boxes from the 2D labels (``label_boxes_*``)."""
    settings = chain_inputs(generated)
    out = {
        f"rendered_{name}": predict_poses(models["liftnet"], inputs)
        for name, inputs in settings.items()
    }
    out["rendered_liftnet_reference_regnet"] = predict_poses(
        models["liftnet_reference"], settings["liftnet_regnet"]
    )
    out["label_boxes_liftnet_regnet"] = predict_poses(models["liftnet"], lift_tensors(labelled))
    out["rendered_row"] = rows_of(test, generated["sample_id"])
    return out


def test_set_predictions(
    test: Arrays,
    models: dict[str, LiftNet],
    noise: dict | None,
    chain: tuple[Arrays, Arrays] | None,
) -> Arrays:
    """Every setting's per-sample poses on ``test`` with the ground truth and camera fields the
    figures need; ``chain``: RegNet's outputs on the rendered test frames, found and from
    label boxes (None: no chain settings). Floats as float32."""
    out = {
        "sample_id": test["sample_id"],
        "action": test["action"],
        "pose3d_gt": metric_pose(test),
        **camera_fields(test),
        **liftnet_predictions(test, models, noise),
    }
    if chain is not None:
        out |= chain_predictions(test, *chain, models)
    out |= rendered_cameras(chain[0] if chain is not None else None)
    return as_float32(out)


def adapted_predictions(test: Arrays, models: dict[str, LiftNet]) -> Arrays:
    """The adapted LiftNets (keys of :data:`ADAPTED_SETTINGS`) on the test split's true inputs."""
    inputs = lift_tensors(test)
    return as_float32({key: predict_poses(model, inputs) for key, model in models.items()})


def as_float32(arrays: Arrays) -> Arrays:
    return {k: v.astype(np.float32) if v.dtype.kind == "f" else v for k, v in arrays.items()}
