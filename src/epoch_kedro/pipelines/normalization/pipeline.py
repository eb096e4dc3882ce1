"""The ``normalization`` pipeline."""

from kedro.pipeline import Pipeline, node, pipeline

from epoch_kedro.pipelines.normalization.nodes import (
    build_model_inputs,
    compute_statistics,
    summarize_dataset,
)


def create_pipeline(**kwargs) -> Pipeline:
    """Ingested dataset -> per-split model inputs, statistics and a summary."""
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
        ]
    )
