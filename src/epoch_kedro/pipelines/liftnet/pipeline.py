"""The ``liftnet`` pipeline."""

from kedro.pipeline import Pipeline, node, pipeline

from epoch_kedro.pipelines.liftnet.nodes import train_lifter

_DATA = [
    "model_input_train",
    "model_input_val",
    "regnet_inputs_train",
    "regnet_inputs_val",
    "dataset_statistics",
]


def create_pipeline(**kwargs) -> Pipeline:
    """LiftNet on the chain's inputs, plus two models trained on ground-truth 2D + K.

    The reference (perspective) and the weak-perspective ablation share ground-truth inputs, so
    that comparison is not drowned by RegNet's 2D noise; the frozen 2D prior serves all three.
    """
    return pipeline(
        [
            node(
                train_lifter,
                inputs=[*_DATA, "flow_model", "params:liftnet"],
                outputs=["liftnet_model", "liftnet_history"],
                name="train_liftnet",
                tags=["training"],
            ),
            node(
                train_lifter,
                inputs=[*_DATA, "flow_model", "params:liftnet", "params:liftnet_weak"],
                outputs=["liftnet_weak_model", "liftnet_weak_history"],
                name="train_liftnet_weak",
                tags=["training"],
            ),
            node(
                train_lifter,
                inputs=[*_DATA, "flow_model", "params:liftnet", "params:liftnet_reference"],
                outputs=["liftnet_reference_model", "liftnet_reference_history"],
                name="train_liftnet_reference",
                tags=["training"],
            ),
        ]
    )
