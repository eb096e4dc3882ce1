"""The ``regnet`` pipeline."""

from kedro.pipeline import Pipeline, node, pipeline

from epoch_kedro.pipelines.regnet.nodes import train_regnet_model


def create_pipeline(**kwargs) -> Pipeline:
    """Rendered images + 2D labels -> a trained RegNet."""
    return pipeline(
        [
            node(
                train_regnet_model,
                inputs=[
                    "model_input_train",
                    "model_input_val",
                    "images",
                    "image_index",
                    "dataset_statistics",
                    "flow_model",
                    "params:regnet",
                ],
                outputs=["regnet_model", "regnet_history"],
                name="train_regnet",
                tags=["training"],
            ),
        ]
    )
