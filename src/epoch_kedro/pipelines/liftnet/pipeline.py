"""The ``liftnet`` pipeline."""

from kedro.pipeline import Node, Pipeline, node, pipeline

from epoch_kedro.pipelines.liftnet.nodes import train_lifter, train_lifter_variants

_DATA = [
    "model_input_train",
    "model_input_val",
    "regnet_inputs_train",
    "regnet_inputs_val",
    "dataset_statistics",
]


def _train_node(name: str) -> Node:
    """Train LiftNet ``name`` on ``params:liftnet``."""
    return node(
        train_lifter,
        inputs=[*_DATA, "flow_model", "params:liftnet"],
        outputs=[f"{name}_model", f"{name}_history"],
        name=f"train_{name}",
        tags=["training"],
    )


def create_pipeline(**kwargs) -> Pipeline:
    """LiftNet on the chain's inputs, plus two models trained on ground-truth 2D + K.

    The reference (perspective) and the weak-perspective ablation share ground-truth inputs, so
    that comparison is not drowned by RegNet's 2D noise; one node trains the two side by side
    (``liftnet.concurrent``). The frozen 2D prior serves all three.
    """
    return pipeline(
        [
            _train_node("liftnet"),
            node(
                train_lifter_variants,
                inputs=[
                    *_DATA,
                    "flow_model",
                    "params:liftnet",
                    "params:liftnet_weak",
                    "params:liftnet_reference",
                ],
                outputs=[
                    "liftnet_weak_model",
                    "liftnet_weak_history",
                    "liftnet_reference_model",
                    "liftnet_reference_history",
                ],
                name="train_liftnet_variants",
                tags=["training"],
            ),
        ]
    )
