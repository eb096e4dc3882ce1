"""Report nodes: tables, figures and ``report.html``.

Pure functions of what the catalog holds (``metrics.json``, the per-sample test predictions,
the training histories, the rendered frames for the overlays): nothing is predicted here. The
report can be rebuilt alone with ``kedro run --pipelines evaluation``.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from epoch_kedro.data.config import render_config
from epoch_kedro.data.crops import crop_source
from epoch_kedro.pipelines.evaluation.nodes import has_chain
from epoch_kedro.reporting import figures as F
from epoch_kedro.reporting import tables as T
from epoch_kedro.reporting.predictions import overlay_samples
from epoch_kedro.reporting.report import ReportConfig, build_figures, report_page
from epoch_kedro.utils.config import from_params

logger = logging.getLogger(__name__)

Arrays = dict[str, np.ndarray]


def tabulate_results(
    metrics: dict[str, Any], test_predictions: Arrays
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, float]]:
    """The headline (with published reference points), per-action and per-joint tables, and
    the dozen headline figures DVC shows."""
    return (
        T.headline_table(metrics),
        T.per_action_table(metrics),
        T.per_joint_table(test_predictions),
        T.headline_metrics(metrics),
    )


def collect_training_curves(**histories: list[dict]) -> pd.DataFrame:
    """Every model's per-epoch history in one long table (``model, epoch, metric, value``).

    Keyword names are the model names the training-curve figure looks for (``flow``,
    ``liftnet``, ``liftnet_weak``, ``regnet``): a new model is one more pipeline input.
    """
    return T.training_curves_table(histories)


def pick_overlays(
    regnet_inputs_test: Arrays,
    images: np.ndarray,
    image_index: Arrays,
    raw_dataset: Arrays,
    report: dict[str, Any],
    dataset: dict[str, Any],
    tested: dict[str, Any],
    render: dict[str, Any],
) -> Arrays:
    """A few rendered test frames with RegNet's box and 2D, and the crop of that box re-cut
    from the source at ``report.overlay_crop_size`` px (empty without the chain)."""
    config = from_params(ReportConfig, report, "report")
    generated = regnet_inputs_test
    if not has_chain(generated, dataset, tested):
        generated = {"sample_id": np.zeros(0, np.int64), "image_size": np.zeros((0, 2)),
                     "kp2d": np.zeros((0, 17, 2)), "kp2d_gt": np.zeros((0, 17, 2)),
                     "box": np.zeros((0, 3))}  # fmt: skip
    large = replace(render_config(render), crop_size=config.overlay_crop_size)
    crop_fn = crop_source(raw_dataset, dataset, large)
    return overlay_samples(generated, images, image_index, config.overlay_samples, crop_fn,
                           config.overlay_crop_size)  # fmt: skip


def build_report(  # noqa: PLR0913 - one argument per catalog input of the node
    metrics: dict[str, Any],
    headline_table: pd.DataFrame,
    per_action_errors: pd.DataFrame,
    per_joint_errors: pd.DataFrame,
    test_predictions: Arrays,
    report_overlays: Arrays,
    training_curves: pd.DataFrame,
    report: dict[str, Any],
    run_info: dict[str, Any] | None = None,
) -> dict[str, Figure | str]:
    """Every figure (a placeholder that says why, when a section is absent) and the page
    (with the run's provenance, from :mod:`epoch_kedro.hooks`)."""
    config = from_params(ReportConfig, report, "report")
    figures = build_figures(test_predictions, report_overlays, metrics, training_curves, config)
    tables = {
        "headline": headline_table,
        "per_action": per_action_errors,
        "per_joint": per_joint_errors,
    }
    page = report_page(metrics, tables, figures, run_info, config)
    missing = [name for name, f in figures.items() if f.figure is None]
    if missing:
        logger.info("Report sections not available: %s", ", ".join(missing))
    saved: dict[str, Figure | str] = {
        name: f.figure if f.figure is not None else F.not_available(f.title, f.reason)
        for name, f in figures.items()
    }
    saved["report_html"] = page
    return saved
