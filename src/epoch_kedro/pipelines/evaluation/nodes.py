"""Evaluation nodes: every setting's poses once, then the field's metrics from them.

The recipes live in :mod:`epoch_kedro.evaluation` (``settings``: what is predicted,
``sections``: the metrics); these nodes load the artifacts and say what they found.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from epoch_kedro.data.config import dataset_config
from epoch_kedro.data.sources import dataset_name
from epoch_kedro.evaluation import sections as S
from epoch_kedro.evaluation.metrics import DISTANCE_EDGES_M
from epoch_kedro.evaluation.settings import (
    ADAPTED_SETTINGS,
    adapted_predictions,
    test_set_predictions,
)
from epoch_kedro.models.artifacts import liftnet_from_artifact

logger = logging.getLogger(__name__)

Arrays = dict[str, np.ndarray]
_HEADLINE = "%-32s MPJPE %6.1f  N-MPJPE %6.1f  PA-MPJPE %6.1f mm  PCK %5.1f  AUC %5.1f"


def is_cross(dataset: dict[str, Any], tested: dict[str, Any]) -> bool:
    """Whether the tested dataset is not the one the models were trained on."""
    return dict(tested) != dict(dataset)


def has_chain(generated: Arrays, dataset: dict[str, Any], tested: dict[str, Any]) -> bool:
    """Whether RegNet's outputs exist for the tested split (its own dataset, rendered)."""
    return len(generated["kp2d"]) > 0 and not is_cross(dataset, tested)


def _omission_reason(cross: bool, dataset: dict[str, Any]) -> str:
    if cross:
        return "cross-dataset evaluation: RegNet outputs exist only for the training dataset"
    return (
        f"no RegNet outputs: dataset.kind={dataset_config(dataset).kind} provided no images "
        f"(or render.enabled=false), so the regnet and generate_inputs stages were skipped"
    )


def predict_test_set(  # noqa: PLR0913 - one argument per catalog input of the node
    model_input_test: Arrays,
    regnet_inputs_test: Arrays,
    regnet_inputs_test_label_boxes: Arrays,
    liftnet_model: dict[str, Any],
    liftnet_weak_model: dict[str, Any],
    liftnet_reference_model: dict[str, Any],
    evaluation: dict[str, Any],
    dataset: dict[str, Any],
    tested: dict[str, Any],
) -> Arrays:
    """Every setting's per-sample poses on the evaluated test split, once: the metrics and the
    report are computed from them (``test_predictions``).

    ``tested`` is the dataset of ``model_input_test``: ``dataset`` itself, or another one
    (the ``cross_dataset`` pipeline), whose test set has no RegNet outputs."""
    models = {
        "liftnet": liftnet_from_artifact(liftnet_model),
        "liftnet_weak": liftnet_from_artifact(liftnet_weak_model),
        "liftnet_reference": liftnet_from_artifact(liftnet_reference_model),
    }
    chain = has_chain(regnet_inputs_test, dataset, tested)
    found = (regnet_inputs_test, regnet_inputs_test_label_boxes) if chain else None
    noise = evaluation.get("detector_noise")
    return test_set_predictions(model_input_test, models, noise, found)


def predict_adapted(
    unadapted_predictions: Arrays, model_input_test: Arrays, **artifacts: dict[str, Any]
) -> Arrays:
    """The test predictions with those of the LiftNets adapted to this test set's 2D
    (``{name}_adapted_gt``, the ``adapt`` pipeline's) on its true inputs; ``artifacts`` by
    catalog name (the values of :data:`~epoch_kedro.evaluation.settings.ADAPTED_SETTINGS`)."""
    models = {key: liftnet_from_artifact(artifacts[name]) for key, name in ADAPTED_SETTINGS.items()}
    return {**unadapted_predictions, **adapted_predictions(model_input_test, models)}


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
    test, train, pred = model_input_test, model_input_train, test_predictions
    cross = is_cross(dataset, tested)
    chain = has_chain(regnet_inputs_test, dataset, tested)
    metrics: dict[str, Any] = {
        "dataset": dataset_name(tested),
        "dataset_kind": dataset_config(tested).kind,
        "trained_on": dataset_name(dataset),
        "trained_on_subjects": sorted(set(train["subject"].tolist())),
        "cross_dataset": cross,
        "split": "test",
        "test_subjects": sorted(set(test["subject"].tolist())),
        "units": {"errors": "mm", "px_error": "px (full frame)", "pck150": "%", "auc": "%"},
        **S.liftnet_sections(pred, test, edges),
    }
    if test.get("heldout_motion", np.zeros(0, bool)).any():
        generated = regnet_inputs_test if chain else None
        noise = evaluation.get("detector_noise")
        metrics["heldout_motion"] = S.heldout_motion(test, pred, generated, noise)
    metrics |= S.baseline_sections(test, train, edges)
    if chain:
        labelled = regnet_inputs_test_label_boxes
        metrics |= S.chain_sections(pred, regnet_inputs_test, labelled, train, edges)
    else:
        reason = _omission_reason(cross, dataset)
        metrics["sections_omitted"] = dict.fromkeys(S.REGNET_SECTIONS, reason)
        logger.info("Evaluation omits the RegNet sections: %s", reason)
    _log_headlines(metrics)
    return metrics


def _log_headlines(metrics: dict[str, Any]) -> None:
    for section, m in metrics.items():
        if isinstance(m, dict) and "pa_mpjpe" in m:
            logger.info(
                _HEADLINE, section, m["mpjpe"], m["n_mpjpe"], m["pa_mpjpe"], m["pck150"], m["auc"]
            )
