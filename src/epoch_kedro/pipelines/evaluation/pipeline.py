"""The ``evaluation`` pipeline."""

from kedro.pipeline import Pipeline, node, pipeline

from epoch_kedro.pipelines.evaluation.nodes import evaluate_models


def create_pipeline(**kwargs) -> Pipeline:
    """Trained models + test split (true and RegNet-generated inputs) -> metrics.json."""
    return pipeline(
        [
            node(
                evaluate_models,
                inputs=[
                    "model_input_test",
                    "model_input_train",
                    "regnet_inputs_test",
                    "liftnet_model",
                    "liftnet_weak_model",
                    "params:evaluation",
                    "params:dataset",
                ],
                outputs="metrics",
                name="evaluate_models",
                tags=["reporting"],
            ),
        ]
    )
