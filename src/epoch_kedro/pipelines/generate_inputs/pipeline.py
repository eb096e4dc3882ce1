"""The ``generate_inputs`` pipeline."""

from kedro.pipeline import Pipeline, node, pipeline

from epoch_kedro.pipelines.generate_inputs.nodes import generate_regnet_inputs


def create_pipeline(**kwargs) -> Pipeline:
    """Trained RegNet + rendered images -> LiftNet inputs for every split."""
    return pipeline(
        [
            node(
                generate_regnet_inputs,
                inputs=[
                    "model_input_train",
                    "model_input_val",
                    "model_input_test",
                    "images",
                    "image_index",
                    "regnet_model",
                    "params:generate_inputs",
                ],
                outputs=["regnet_inputs_train", "regnet_inputs_val", "regnet_inputs_test"],
                name="generate_regnet_inputs",
                tags=["inference"],
            ),
        ]
    )
