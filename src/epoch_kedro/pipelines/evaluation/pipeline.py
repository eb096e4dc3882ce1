"""The ``evaluation`` pipeline."""

from kedro.pipeline import Pipeline, node, pipeline

from epoch_kedro.pipelines.evaluation.nodes import evaluate_lifting


def create_pipeline(**kwargs) -> Pipeline:
    """Trained models + test split -> metrics.json."""
    return pipeline(
        [
            node(
                evaluate_lifting,
                inputs=[
                    "model_input_test",
                    "model_input_train",
                    "liftnet_model",
                    "liftnet_weak_model",
                    "params:evaluation",
                    "params:dataset",
                ],
                outputs="metrics",
                name="evaluate_lifting",
                tags=["reporting"],
            ),
        ]
    )
