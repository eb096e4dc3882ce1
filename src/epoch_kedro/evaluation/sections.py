"""``metrics.json`` from the per-sample predictions (:mod:`~epoch_kedro.evaluation.settings`):
one section per setting, the baselines, RegNet's camera and the held-out-motion benchmark.
Nothing is predicted here."""

from __future__ import annotations

from typing import Any

import numpy as np

from epoch_kedro.evaluation.evaluate import (
    evaluate_setting,
    flat_depth,
    mean_distance,
    mean_pose,
    motion_groups,
    prior_distance,
    regnet_section,
)
from epoch_kedro.evaluation.settings import ADAPTED_SETTINGS, CHAIN_SETTINGS, noise_settings

Arrays = dict[str, np.ndarray]

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
LIFTNET_SECTIONS = ("liftnet_gt", "liftnet_weak_gt", "liftnet_reference_gt", *ADAPTED_SETTINGS)


def liftnet_sections(pred: Arrays, test: Arrays, edges: tuple[float, ...]) -> dict[str, Any]:
    """Each LiftNet setting present in ``pred`` (the adapted ones only after adaptation)."""
    return {s: evaluate_setting(pred[s], test, edges) for s in LIFTNET_SECTIONS if s in pred}


def baseline_sections(test: Arrays, train: Arrays, edges: tuple[float, ...]) -> dict[str, Any]:
    """The mean training pose, the flat-depth floor and the prior distance along the root ray."""
    baseline = np.broadcast_to(mean_pose(train), test["pose3d_cam"].shape)
    return {
        "baseline_mean_pose": evaluate_setting(baseline, test, edges),
        "baseline_flat_depth": evaluate_setting(flat_depth(test), test, edges),
        "baseline_prior_distance": evaluate_setting(
            prior_distance(test, mean_distance(train)), test, edges
        ),
    }


def heldout_motion(
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
        "detector_noise": noise_settings(noise),
    }
    for name in ("liftnet", "liftnet_reference"):
        section[f"{name}_gt"] = motion_groups(predictions[f"{name}_gt"], test)
        section[f"{name}_noisy_2d"] = motion_groups(predictions[f"{name}_noisy_2d"], test)
    if generated is not None and "heldout_motion" in generated:
        pred = predictions["rendered_liftnet_regnet"]
        section["liftnet_regnet"] = motion_groups(pred, generated)
    return section


def chain_sections(pred, generated, labelled, train, edges) -> dict[str, Any]:
    """RegNet's 2D and camera, and the chain's settings, with found and with label boxes."""
    out: dict[str, Any] = {"regnet": regnet_section(generated, train)}
    for section in (*CHAIN_SETTINGS, "liftnet_reference_regnet"):
        out[section] = evaluate_setting(pred[f"rendered_{section}"], generated, edges)
    out["baseline_prior_distance_regnet"] = evaluate_setting(
        prior_distance(generated, mean_distance(train)), generated, edges
    )
    # The usual Human3.6M protocol: boxes from the 2D labels instead of the image.
    out["regnet_label_boxes"] = regnet_section(labelled, train)
    out["liftnet_regnet_label_boxes"] = evaluate_setting(
        pred["label_boxes_liftnet_regnet"], labelled, edges
    )
    return out
