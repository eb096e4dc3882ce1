"""The ``evaluation`` pipeline: metrics, then the report built from them."""

from kedro.pipeline import Pipeline, node, pipeline

from epoch_kedro.evaluation.settings import ADAPTED_SETTINGS
from epoch_kedro.pipelines.evaluation.nodes import (
    evaluate_models,
    predict_adapted,
    predict_test_set,
)
from epoch_kedro.pipelines.evaluation.report_nodes import (
    build_report,
    collect_training_curves,
    pick_overlays,
    tabulate_results,
)

#: The report's figures (MatplotlibDataset entries of the catalog), in page order.
REPORT_FIGURES: tuple[str, ...] = (
    "figure_skeletons_3d",
    "figure_regnet_overlays",
    "figure_error_vs_distance",
    "figure_error_vs_focal",
    "figure_camera_errors",
    "figure_test_cameras",
    "figure_training_curves",
)

#: The adapted LiftNets an ``adapted`` evaluation also scores (the ``adapt`` pipeline's).
ADAPTED_MODELS = tuple(ADAPTED_SETTINGS.values())


def create_pipeline(tested: str = "params:dataset", adapted: bool = False, **kwargs) -> Pipeline:
    """Trained models + test split -> every setting's per-sample predictions (once) ->
    metrics.json, tables, report.

    ``tested`` names the parameters of the dataset whose ``model_input_test`` is evaluated:
    this run's own (``params:dataset``), or another (the ``cross_dataset`` pipeline).
    ``adapted``: the predictions also hold those of :data:`ADAPTED_MODELS`.
    """
    predictions = "unadapted_predictions" if adapted else "test_predictions"
    return pipeline(
        [
            *(_adapted_predictions(predictions) if adapted else []),
            node(
                predict_test_set,
                inputs=[
                    "model_input_test",
                    "regnet_inputs_test",
                    "regnet_inputs_test_label_boxes",
                    "liftnet_model",
                    "liftnet_weak_model",
                    "liftnet_reference_model",
                    "params:evaluation",
                    "params:dataset",
                    tested,
                ],
                outputs=predictions,
                name="predict_test_set",
                tags=["inference"],
            ),
            node(
                pick_overlays,
                inputs=[
                    "regnet_inputs_test",
                    "images",
                    "image_index",
                    "raw_dataset",
                    "params:report",
                    "params:dataset",
                    tested,
                    "params:render",
                ],
                outputs="report_overlays",
                name="pick_overlays",
                tags=["reporting"],
            ),
            node(
                evaluate_models,
                inputs=[
                    "test_predictions",
                    "model_input_test",
                    "model_input_train",
                    "regnet_inputs_test",
                    "regnet_inputs_test_label_boxes",
                    "params:evaluation",
                    "params:dataset",
                    tested,
                ],
                outputs="metrics",
                name="evaluate_models",
                tags=["reporting"],
            ),
            node(
                tabulate_results,
                inputs=["metrics", "test_predictions"],
                outputs=[
                    "headline_table",
                    "per_action_errors",
                    "per_joint_errors",
                    "headline_metrics",
                ],
                name="tabulate_results",
                tags=["reporting"],
            ),
            node(
                collect_training_curves,
                inputs={
                    "flow": "flow_history",
                    "liftnet": "liftnet_history",
                    "liftnet_weak": "liftnet_weak_history",
                    "liftnet_reference": "liftnet_reference_history",
                    "regnet": "regnet_history",
                    "localizer": "localizer_history",
                },
                outputs="training_curves",
                name="collect_training_curves",
                tags=["reporting"],
            ),
            node(
                build_report,
                inputs=[
                    "metrics",
                    "headline_table",
                    "per_action_errors",
                    "per_joint_errors",
                    "test_predictions",
                    "report_overlays",
                    "training_curves",
                    "params:report",
                    "run_info",
                ],
                outputs={name: name for name in (*REPORT_FIGURES, "report_html")},
                name="build_report",
                tags=["reporting"],
            ),
        ]
    )


def _adapted_predictions(unadapted: str) -> list:
    """The node that adds the adapted LiftNets' predictions to the others."""
    return [
        node(
            predict_adapted,
            inputs={
                "unadapted_predictions": unadapted,
                "model_input_test": "model_input_test",
                **{name: name for name in ADAPTED_MODELS},
            },
            outputs="test_predictions",
            name="predict_adapted",
            tags=["inference"],
        )
    ]
