"""The ``generate_inputs`` pipeline."""

from kedro.pipeline import Pipeline, node, pipeline

from epoch_kedro.pipelines.generate_inputs.nodes import generate_regnet_inputs


def create_pipeline(**kwargs) -> Pipeline:
    """Localiser boxes + RegNet on their crops -> LiftNet inputs for every split."""
    return pipeline(
        [
            node(
                generate_regnet_inputs,
                inputs=[
                    "model_input_train",
                    "model_input_val",
                    "model_input_test",
                    "raw_dataset",
                    "images",
                    "image_index",
                    "localizer_model",
                    "regnet_model",
                    "params:generate_inputs",
                    "params:dataset",
                    "params:render",
                ],
                outputs=[
                    "regnet_inputs_train",
                    "regnet_inputs_val",
                    "regnet_inputs_test",
                    "regnet_inputs_test_label_boxes",
                ],
                name="generate_regnet_inputs",
                tags=["inference"],
            ),
        ]
    )
