"""Evaluation nodes: predict with each trained model and compute the field's metrics."""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

import numpy as np
import torch

from epoch_kedro.data.sources import check_kind, dataset_name, load_test_split
from epoch_kedro.evaluation.evaluate import (
    evaluate_setting,
    mean_pose,
    motion_groups,
    regnet_section,
)
from epoch_kedro.inference.lifting import inputs_from_keypoints, lift_tensors, predict_poses
from epoch_kedro.models.artifacts import liftnet_from_artifact
from epoch_kedro.models.liftnet import LiftNet
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


def _test_set(
    model_input_test: Arrays, evaluation: dict[str, Any], dataset: dict[str, Any]
) -> tuple[Arrays, dict[str, Any]]:
    """The split to evaluate on and its dataset parameters: this run's, or ``evaluation.dataset``.

    ``evaluation.dataset`` (cross-dataset evaluation) names another dataset, with the keys of
    the ``dataset`` parameter; its test set is loaded and normalised here.
    """
    other = evaluation.get("dataset")
    if not other:
        return model_input_test, dataset
    other = dict(other)
    check_kind(other)
    logger.info(
        "Cross-dataset evaluation: models trained on %s, evaluated on the test set of %s",
        dataset_name(dataset),
        dataset_name(other),
    )
    split = load_test_split(other, other.get("synthetic"))
    return split, other


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
    params = dict(params or {})
    seed = int(params.pop("seed", 0))
    noise = from_params(DetectorNoise, {**params, "share": 1.0}, "evaluation.detector_noise")
    noise.validate()
    return corrupt(inputs, noise, torch.Generator().manual_seed(seed)), {
        **asdict(noise),
        "seed": seed,
    }


def _heldout_motion(
    test: Arrays, generated: Arrays | None, models: dict[str, LiftNet], noise: dict | None
) -> dict[str, Any]:
    """The held-out-motion benchmark: each LiftNet on the test samples of motions that neither
    it nor the pose prior trained on (``heldout``) and of the others (``seen``), on true 2D + K,
    on the same 2D with detector-like errors, and the chain's LiftNet on RegNet's outputs."""
    flag = test["heldout_motion"]
    clean = lift_tensors(test)
    noisy, used = _noisy(clean, noise)
    section: dict[str, Any] = {
        "actions": sorted(set(test["action"][flag].tolist())),
        "samples": {"seen": int((~flag).sum()), "heldout": int(flag.sum())},
        "detector_noise": used,
    }
    for name, model in models.items():
        section[f"{name}_gt"] = motion_groups(predict_poses(model, clean), test)
        section[f"{name}_noisy_2d"] = motion_groups(predict_poses(model, noisy), test)
    if generated is not None and len(generated["kp2d"]) and "heldout_motion" in generated:
        pred = predict_poses(models["liftnet"], lift_tensors(generated))
        section["liftnet_regnet"] = motion_groups(pred, generated)
    return section


def evaluate_models(  # noqa: PLR0913 - one argument per catalog input of the node
    model_input_test: Arrays,
    model_input_train: Arrays,
    regnet_inputs_test: Arrays,
    regnet_inputs_test_label_boxes: Arrays,
    liftnet_model: dict[str, Any],
    liftnet_weak_model: dict[str, Any],
    liftnet_reference_model: dict[str, Any],
    evaluation: dict[str, Any],
    dataset: dict[str, Any],
) -> dict[str, Any]:
    """Every setting on the test subjects: LiftNet on true inputs, the chain, RegNet, baselines.

    The chain is evaluated with boxes found from the image (``regnet``, ``liftnet_regnet``)
    and with boxes from the 2D labels (``*_label_boxes``).

    With ``evaluation.dataset`` set, the test set is that dataset's (cross-dataset evaluation)
    and the RegNet sections are omitted; ``sections_omitted`` says which and why.
    """
    edges = tuple(evaluation.get("distance_edges_m", (3.0, 6.0)))
    test, tested = _test_set(model_input_test, evaluation, dataset)
    cross = tested is not dataset
    liftnet = liftnet_from_artifact(liftnet_model)
    reference = liftnet_from_artifact(liftnet_reference_model)
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
    inputs = lift_tensors(test)
    for section, model in (
        ("liftnet_gt", liftnet),
        ("liftnet_weak_gt", liftnet_from_artifact(liftnet_weak_model)),
        ("liftnet_reference_gt", reference),
    ):
        metrics[section] = evaluate_setting(predict_poses(model, inputs), test, edges)
    if test.get("heldout_motion", np.zeros(0, bool)).any():
        metrics["heldout_motion"] = _heldout_motion(
            test,
            None if cross else regnet_inputs_test,
            {"liftnet": liftnet, "liftnet_reference": reference},
            evaluation.get("detector_noise"),
        )
    baseline = np.broadcast_to(mean_pose(model_input_train), test["pose3d_cam"].shape)
    metrics["baseline_mean_pose"] = evaluate_setting(baseline, test, edges)
    if len(regnet_inputs_test["kp2d"]) and not cross:
        metrics["regnet"] = regnet_section(regnet_inputs_test, model_input_train)
        for section, chain_inputs in _chain_settings(regnet_inputs_test).items():
            pred = predict_poses(liftnet, chain_inputs)
            metrics[section] = evaluate_setting(pred, regnet_inputs_test, edges)
        pred = predict_poses(reference, lift_tensors(regnet_inputs_test))
        metrics["liftnet_reference_regnet"] = evaluate_setting(pred, regnet_inputs_test, edges)
        # The usual Human3.6M protocol: boxes from the 2D labels instead of the image.
        labelled = regnet_inputs_test_label_boxes
        metrics["regnet_label_boxes"] = regnet_section(labelled, model_input_train)
        pred = predict_poses(liftnet, lift_tensors(labelled))
        metrics["liftnet_regnet_label_boxes"] = evaluate_setting(pred, labelled, edges)
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
