"""Normalization nodes: thin wrappers over :mod:`epoch_kedro.data.normalize`."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from epoch_kedro.data.config import dataset_config
from epoch_kedro.data.normalize import (
    dataset_actions,
    dataset_statistics,
    hold_out_motions,
    seen_motions,
    split_by_subject,
    summarize,
    to_model_input,
)
from epoch_kedro.data.sources import dataset_name, evaluate_only, resolve_splits
from epoch_kedro.data.validate import DatasetValidationError, validate_dataset, validate_splits
from epoch_kedro.geometry import UNDISTORT_ITERATIONS
from epoch_kedro.models.artifacts import to_artifact
from epoch_kedro.models.flow import FlowConfig
from epoch_kedro.training.distributed import launch
from epoch_kedro.training.flow import train_flow
from epoch_kedro.training.loop import LoopConfig
from epoch_kedro.utils.config import from_params
from epoch_kedro.utils.runtime import set_threads

logger = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
Arrays = dict[str, np.ndarray]


def build_model_inputs(
    raw_dataset: Arrays,
    splits: dict[str, list[str]],
    dataset: dict[str, Any],
    normalization: dict[str, Any],
) -> tuple[Arrays, Arrays, Arrays]:
    """Split by subject and normalise each split: train, val and test model inputs.

    Real datasets use their protocol split unless ``dataset.splits`` is set (``resolve_splits``).
    An evaluate-only dataset (cross-dataset evaluation) has empty train and val splits.
    """
    name = dataset_name(dataset)
    # The raw dataset is checked again here: it is a file on disk, edited or replaced between
    # stages at will, and a NaN or a missing field must stop the run before anything is written.
    validate_dataset(raw_dataset, name=name)
    splits = _checked_splits(resolve_splits(splits, dataset), raw_dataset, dataset)
    # sample_id ties each model-input row back to the ingested row (and to its image).
    raw = {**raw_dataset, "sample_id": np.arange(len(raw_dataset["kp2d"]), dtype=np.int64)}
    parts = split_by_subject(raw, {s: splits[s] for s in SPLITS})
    parts = _hold_out(parts, normalization, dataset)
    iterations = int(normalization.get("undistort_iterations", UNDISTORT_ITERATIONS))
    outputs = tuple(to_model_input(parts[s], undistort_iterations=iterations) for s in SPLITS)
    for split, part in zip(SPLITS, outputs, strict=True):
        logger.info("%s split: %d samples (%s)", split, len(part["kp2d"]), ", ".join(splits[split]))
    return outputs


def _checked_splits(splits: dict[str, list[str]], raw: Arrays, dataset: dict) -> dict:
    """``splits`` checked against the data; an evaluate-only dataset's train and val empty."""
    name, subjects = dataset_name(dataset), np.unique(raw["subject"]).tolist()
    if evaluate_only(dataset):
        validate_splits(splits, subjects, name, required=("test",))
        return {"train": [], "val": [], **splits}
    missing = [s for s in SPLITS if s not in splits]
    if missing:
        raise DatasetValidationError(f"dataset '{name}': parameters 'splits' lacks {missing}")
    validate_splits(splits, subjects, name=name)
    return splits


def _hold_out(parts: dict[str, Arrays], normalization: dict, dataset: dict) -> dict[str, Arrays]:
    """Apply ``normalization.heldout_actions.<dataset kind>`` (:func:`hold_out_motions`).

    Names that are not actions of this dataset (e.g. after narrowing ``synthetic.actions``)
    are left out with a warning; ``metrics.json`` records the actions actually held out.
    """
    kind = dataset_config(dataset).kind
    listed = [str(a) for a in (normalization.get("heldout_actions") or {}).get(kind) or []]
    known = dataset_actions(parts)
    missing = [a for a in listed if a not in known]
    if missing:
        logger.warning(
            "normalization.heldout_actions.%s: %s not among this dataset's actions %s; "
            "holding out the others",
            kind,
            missing,
            known,
        )
    actions = [a for a in listed if a in known]
    parts = hold_out_motions(parts, actions)
    if actions:
        logger.info(
            "Held-out motions %s: left out of the flow prior, the statistics and LiftNet "
            "(%d training and %d test samples)",
            ", ".join(actions),
            int(parts["train"]["heldout_motion"].sum()),
            int(parts["test"]["heldout_motion"].sum()),
        )
    return parts


def compute_statistics(model_input_train: Arrays) -> Arrays:
    """Training-population statistics (bone lengths, 2D pose mean and PCA basis)."""
    return dataset_statistics(seen_motions(model_input_train))


def summarize_dataset(
    model_input_train: Arrays,
    model_input_val: Arrays,
    model_input_test: Arrays,
    dataset_statistics: Arrays,
) -> dict[str, Any]:
    """A JSON summary of the splits for people and for ``dvc metrics``."""
    splits = dict(zip(SPLITS, (model_input_train, model_input_val, model_input_test), strict=True))
    return summarize(splits, dataset_statistics)


def train_flow_prior(
    model_input_train: Arrays,
    model_input_val: Arrays,
    dataset_statistics: Arrays,
    flow: dict[str, Any],
) -> tuple[dict[str, Any], list[dict]]:
    """Fit the normalizing-flow prior on the training split's normalised 2D poses (held-out
    motions left out)."""
    set_threads(flow)
    config = from_params(FlowConfig, flow.get("model"), "flow.model")
    loop = from_params(LoopConfig, flow.get("loop"), "flow.loop")
    model, result = launch(
        train_flow,
        seen_motions(model_input_train),
        seen_motions(model_input_val),
        dataset_statistics,
        config,
        loop,
        noise=float(flow.get("noise", 0.01)),
        devices=loop.devices,
    )
    return to_artifact(model, "pose_flow", result.history, result.training), result.history
