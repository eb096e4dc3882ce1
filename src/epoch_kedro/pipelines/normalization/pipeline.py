"""The ``normalization`` pipeline."""

from kedro.pipeline import Pipeline, node, pipeline

from epoch_kedro.pipelines.normalization.nodes import (
    build_model_inputs,
    compute_statistics,
    summarize_dataset,
    train_flow_prior,
)


def create_pipeline(**kwargs) -> Pipeline:
    """Ingested dataset -> per-split model inputs, statistics, a summary and the 2D pose prior.

    The prior (a normalizing flow over normalised 2D poses) is a density estimate of the
    training 2D, so it lives here, before both RegNet and LiftNet that use it.
    """
    return pipeline(
        [
            node(
                build_model_inputs,
                inputs=["raw_dataset", "params:splits", "params:dataset", "params:normalization"],
                outputs=["model_input_train", "model_input_val", "model_input_test"],
                name="build_model_inputs",
                tags=["data"],
            ),
            node(
                compute_statistics,
                inputs="model_input_train",
                outputs="dataset_statistics",
                name="compute_statistics",
                tags=["data"],
            ),
            node(
                summarize_dataset,
                inputs=[
                    "model_input_train",
                    "model_input_val",
                    "model_input_test",
                    "dataset_statistics",
                ],
                outputs="dataset_summary",
                name="summarize_dataset",
                tags=["data", "reporting"],
            ),
            node(
                train_flow_prior,
                inputs=[
                    "model_input_train",
                    "model_input_val",
                    "dataset_statistics",
                    "params:flow",
                ],
                outputs=["flow_model", "flow_history"],
                name="train_flow_prior",
                tags=["training"],
            ),
        ]
    )
