"""Evaluation nodes: predict with each trained model and compute the field's metrics."""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

import numpy as np
import torch

from epoch_kedro.data.crops import crop_source
from epoch_kedro.data.sources import dataset_name
from epoch_kedro.evaluation.evaluate import (
    evaluate_setting,
    flat_depth,
    mean_distance,
    mean_pose,
    metric_pose,
    motion_groups,
    prior_distance,
    regnet_section,
)
from epoch_kedro.evaluation.metrics import DISTANCE_EDGES_M
from epoch_kedro.inference.lifting import inputs_from_keypoints, lift_tensors, predict_poses
from epoch_kedro.models.artifacts import liftnet_from_artifact
from epoch_kedro.models.liftnet import LiftNet
from epoch_kedro.reporting.predictions import (
    camera_fields,
    overlay_samples,
    rendered_cameras,
    rows_of,
)
from epoch_kedro.reporting.report import ReportConfig
from epoch_kedro.training.detector_noise import DetectorNoise, corrupt
from epoch_kedro.utils.config import from_params

logger = logging.getLogger(__name__)

Arrays = dict[str, np.ndarray]
_HEADLINE = "%-32s MPJPE %6.1f  N-MPJPE %6.1f  PA-MPJPE %6.1f mm  PCK %5.1f  AUC %5.1f"
#: Sections computed from RegNet's outputs; absent (and listed in ``sections_omitted``) without.
REGNET_SECTIONS = (
    "regnet",
    "regnet_label_boxes",
    "liftnet_regnet",
    "liftnet_regnet_label_boxes",
    "liftnet_regnet_2d_true_camera",
    "liftnet_true_2d_regnet_camera",
    "liftnet_gt_rendered_frames",
    "liftnet_reference_regnet",
)


#: Each LiftNet on the test split's own 2D and camera, and adapted to it (``adapt`` pipeline).
LIFTNET_SECTIONS = (
    "liftnet_gt",
    "liftnet_weak_gt",
    "liftnet_reference_gt",
    "liftnet_adapted_gt",
    "liftnet_weak_adapted_gt",
    "liftnet_reference_adapted_gt",
)

#: The chain and the two mixed settings that locate its error (``_chain_settings``), in order.
CHAIN_SETTINGS = (
    "liftnet_regnet",
    "liftnet_regnet_2d_true_camera",
    "liftnet_true_2d_regnet_camera",
    "liftnet_gt_rendered_frames",
)


def _chain_settings(generated: Arrays) -> dict[str, dict]:
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


def _is_cross(dataset: dict[str, Any], tested: dict[str, Any]) -> bool:
    """Whether the tested dataset is not the one the models were trained on."""
    return dict(tested) != dict(dataset)


def _omission_reason(cross: bool, dataset: dict[str, Any]) -> str:
    if cross:
        return "cross-dataset evaluation: RegNet outputs exist only for the training dataset"
    return (
        f"no RegNet outputs: dataset.kind={dataset.get('kind')} provided no images "
        f"(or render.enabled=false), so the regnet and generate_inputs stages were skipped"
    )


def _noisy(inputs: dict, params: dict[str, Any] | None) -> tuple[dict, dict]:
    """LiftNet inputs with detector-like errors on every sample (``evaluation.detector_noise``;
    its ``seed`` fixes the draw) and the noise settings used."""
    noise, seed = _detector_noise(params)
    noise.validate()
    return corrupt(inputs, noise, torch.Generator().manual_seed(seed)), _noise_settings(params)


def _heldout_motion(
    test: Arrays, predictions: Arrays, generated: Arrays | None, noise: dict | None
) -> dict[str, Any]:
    """The held-out-motion benchmark from the predictions: each LiftNet on the test samples of
    motions that neither it nor the pose prior trained on (``heldout``) and of the others
    (``seen``), on true 2D + K, on the same 2D with detector-like errors, and the chain's
    LiftNet on RegNet's outputs (``generated``, the rendered test frames)."""
    flag = test["heldout_motion"]
    section: dict[str, Any] = {
        "actions": sorted(set(test["action"][flag].tolist())),
        "samples": {"seen": int((~flag).sum()), "heldout": int(flag.sum())},
        "detector_noise": _noise_settings(noise),
    }
    for name in ("liftnet", "liftnet_reference"):
        section[f"{name}_gt"] = motion_groups(predictions[f"{name}_gt"], test)
        section[f"{name}_noisy_2d"] = motion_groups(predictions[f"{name}_noisy_2d"], test)
    if generated is not None and "heldout_motion" in generated:
        pred = predictions["rendered_liftnet_regnet"]
        section["liftnet_regnet"] = motion_groups(pred, generated)
    return section


def _detector_noise(params: dict[str, Any] | None) -> tuple[DetectorNoise, int]:
    """``evaluation.detector_noise``: the noise on every sample, and the seed of its draw."""
    params = dict(params or {})
    seed = int(params.pop("seed", 0))
    return from_params(DetectorNoise, {**params, "share": 1.0}, "evaluation.detector_noise"), seed


def _noise_settings(params: dict[str, Any] | None) -> dict:
    """The noise settings as ``metrics.json`` records them."""
    noise, seed = _detector_noise(params)
    return {**asdict(noise), "seed": seed}


def _liftnet_predictions(test: Arrays, models: dict[str, LiftNet], noise: dict | None) -> Arrays:
    """Each LiftNet on the test split's true inputs and, where motions were held out, on the
    same 2D with detector-like errors."""
    inputs = lift_tensors(test)
    out = {f"{name}_gt": predict_poses(model, inputs) for name, model in models.items()}
    if test.get("heldout_motion", np.zeros(0, bool)).any():
        noisy, _ = _noisy(inputs, noise)
        for name in ("liftnet", "liftnet_reference"):
            out[f"{name}_noisy_2d"] = predict_poses(models[name], noisy)
    return out


def _chain_predictions(
    test: Arrays, generated: Arrays, labelled: Arrays, models: dict[str, LiftNet]
) -> Arrays:
    """The chain's settings on the rendered test frames (``rendered_*``, rows of the test split
    in ``rendered_row``) and with boxes from the 2D labels (``label_boxes_*``)."""
    settings = _chain_settings(generated)
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


def predict_test_set(  # noqa: PLR0913 - one argument per catalog input of the node
    model_input_test: Arrays,
    regnet_inputs_test: Arrays,
    regnet_inputs_test_label_boxes: Arrays,
    liftnet_model: dict[str, Any],
    liftnet_weak_model: dict[str, Any],
    liftnet_reference_model: dict[str, Any],
    images: np.ndarray,
    image_index: Arrays,
    raw_dataset: Arrays,
    evaluation: dict[str, Any],
    dataset: dict[str, Any],
    tested: dict[str, Any],
    report: dict[str, Any],
    render: dict[str, Any],
) -> Arrays:
    """Every setting's per-sample poses on the evaluated test split, once: the metrics and the
    report are computed from them (``test_predictions``). The rendered ``images``, their index
    and the raw dataset give the report's overlay frames.

    ``tested`` is the dataset of ``model_input_test``: ``dataset`` itself, or another one
    (the ``cross_dataset`` pipeline), whose test set has no RegNet outputs."""
    frames = (images, image_index, raw_dataset)
    params = {"dataset": dataset, "report": report, "render": render}
    test = model_input_test
    models = {
        "liftnet": liftnet_from_artifact(liftnet_model),
        "liftnet_weak": liftnet_from_artifact(liftnet_weak_model),
        "liftnet_reference": liftnet_from_artifact(liftnet_reference_model),
    }
    out = {
        "sample_id": test["sample_id"],
        "action": test["action"],
        "pose3d_gt": metric_pose(test),
        **camera_fields(test),
        **_liftnet_predictions(test, models, evaluation.get("detector_noise")),
    }
    generated = regnet_inputs_test
    chain = len(generated["kp2d"]) > 0 and not _is_cross(dataset, tested)
    if chain:
        out |= _chain_predictions(test, generated, regnet_inputs_test_label_boxes, models)
    out |= rendered_cameras(generated if chain else None)
    out |= _overlays(generated if chain else None, frames, params)
    return {k: v.astype(np.float32) if v.dtype.kind == "f" else v for k, v in out.items()}


def predict_adapted(
    unadapted_predictions: Arrays,
    model_input_test: Arrays,
    liftnet_adapted_model: dict[str, Any],
    liftnet_weak_adapted_model: dict[str, Any],
    liftnet_reference_adapted_model: dict[str, Any],
) -> Arrays:
    """The test predictions with those of the LiftNets adapted to this test set's 2D
    (``{name}_adapted_gt``, the ``adapt`` pipeline's) on its true inputs."""
    inputs = lift_tensors(model_input_test)
    adapted = {
        "liftnet_adapted_gt": liftnet_adapted_model,
        "liftnet_weak_adapted_gt": liftnet_weak_adapted_model,
        "liftnet_reference_adapted_gt": liftnet_reference_adapted_model,
    }
    out = dict(unadapted_predictions)
    for key, artifact in adapted.items():
        out[key] = predict_poses(liftnet_from_artifact(artifact), inputs).astype(np.float32)
    return out


def _overlays(generated: Arrays | None, frames: tuple, params: dict) -> Arrays:
    """A few rendered test frames with RegNet's box and 2D, for the report."""
    images, image_index, raw_dataset = frames
    config = from_params(ReportConfig, params["report"], "report")
    if generated is None:  # no chain: no frames to overlay
        generated = {"sample_id": np.zeros(0, np.int64), "image_size": np.zeros((0, 2)),
                     "kp2d": np.zeros((0, 17, 2)), "kp2d_gt": np.zeros((0, 17, 2)),
                     "box": np.zeros((0, 3))}  # fmt: skip
    render = {**params["render"], "crop_size": config.overlay_crop_size}
    crop_fn = crop_source(raw_dataset, params["dataset"], render)
    return overlay_samples(generated, images, image_index, config.overlay_samples, crop_fn,
                           config.overlay_crop_size)  # fmt: skip


def evaluate_models(
    test_predictions: Arrays,
    model_input_test: Arrays,
    model_input_train: Arrays,
    regnet_inputs_test: Arrays,
    regnet_inputs_test_label_boxes: Arrays,
    evaluation: dict[str, Any],
    dataset: dict[str, Any],
    tested: dict[str, Any],
) -> dict[str, Any]:
    """Every setting's metrics from the per-sample predictions: LiftNet on true inputs, the
    chain, RegNet, baselines. Nothing is predicted here.

    The chain is evaluated with boxes found from the image (``regnet``, ``liftnet_regnet``)
    and with boxes from the 2D labels (``*_label_boxes``).

    When the tested dataset is not the training one (the ``cross_dataset`` pipeline), the
    RegNet sections are omitted; ``sections_omitted`` says which and why.
    """
    edges = tuple(evaluation.get("distance_edges_m", DISTANCE_EDGES_M))
    test = model_input_test
    cross = _is_cross(dataset, tested)
    pred = test_predictions
    metrics: dict[str, Any] = {
        "dataset": dataset_name(tested),
        "dataset_kind": tested.get("kind"),
        "trained_on": dataset_name(dataset),
        "trained_on_subjects": sorted(set(model_input_train["subject"].tolist())),
        "cross_dataset": cross,
        "split": "test",
        "test_subjects": sorted(set(test["subject"].tolist())),
        "units": {"errors": "mm", "px_error": "px (full frame)", "pck150": "%", "auc": "%"},
    }
    for section in LIFTNET_SECTIONS:
        if section in pred:  # the adapted ones only after the adapt pipeline
            metrics[section] = evaluate_setting(pred[section], test, edges)
    chain = len(regnet_inputs_test["kp2d"]) > 0 and not cross
    if test.get("heldout_motion", np.zeros(0, bool)).any():
        metrics["heldout_motion"] = _heldout_motion(
            test, pred, regnet_inputs_test if chain else None, evaluation.get("detector_noise")
        )
    baseline = np.broadcast_to(mean_pose(model_input_train), test["pose3d_cam"].shape)
    metrics["baseline_mean_pose"] = evaluate_setting(baseline, test, edges)
    metrics["baseline_flat_depth"] = evaluate_setting(flat_depth(test), test, edges)
    distance = mean_distance(model_input_train)
    metrics["baseline_prior_distance"] = evaluate_setting(
        prior_distance(test, distance), test, edges
    )
    if chain:
        metrics |= _chain_metrics(pred, regnet_inputs_test, regnet_inputs_test_label_boxes,
                                  model_input_train, edges)  # fmt: skip
    else:
        reason = _omission_reason(cross, dataset)
        metrics["sections_omitted"] = dict.fromkeys(REGNET_SECTIONS, reason)
        logger.info("Evaluation omits the RegNet sections: %s", reason)
    for section, m in metrics.items():
        if isinstance(m, dict) and "pa_mpjpe" in m:
            logger.info(
                _HEADLINE, section, m["mpjpe"], m["n_mpjpe"], m["pa_mpjpe"], m["pck150"], m["auc"]
            )
    return metrics


def _chain_metrics(pred, generated, labelled, train, edges) -> dict[str, Any]:
    """RegNet's 2D and camera, and the chain's settings, with found and with label boxes."""
    out: dict[str, Any] = {"regnet": regnet_section(generated, train)}
    for section in (*CHAIN_SETTINGS, "liftnet_reference_regnet"):
        out[section] = evaluate_setting(pred[f"rendered_{section}"], generated, edges)
    # The usual Human3.6M protocol: boxes from the 2D labels instead of the image.
    out["baseline_prior_distance_regnet"] = evaluate_setting(
        prior_distance(generated, mean_distance(train)), generated, edges
    )
    out["regnet_label_boxes"] = regnet_section(labelled, train)
    out["liftnet_regnet_label_boxes"] = evaluate_setting(
        pred["label_boxes_liftnet_regnet"], labelled, edges
    )
    return out
