"""The ``liftnet`` pipeline."""

from kedro.pipeline import Node, Pipeline, node, pipeline

from epoch_kedro.pipelines.liftnet.nodes import train_lifter

_DATA = [
    "model_input_train",
    "model_input_val",
    "regnet_inputs_train",
    "regnet_inputs_val",
    "dataset_statistics",
]


def _train_node(name: str, override: bool) -> Node:
    """Train LiftNet ``name`` on ``params:liftnet``, overridden by ``params:<name>`` if asked."""
    params = ["params:liftnet"] + ([f"params:{name}"] if override else [])
    return node(
        train_lifter,
        inputs=[*_DATA, "flow_model", *params],
        outputs=[f"{name}_model", f"{name}_history"],
        name=f"train_{name}",
        tags=["training"],
    )


def create_pipeline(**kwargs) -> Pipeline:
    """LiftNet on the chain's inputs, plus two models trained on ground-truth 2D + K.

    The reference (perspective) and the weak-perspective ablation share ground-truth inputs, so
    that comparison is not drowned by RegNet's 2D noise; the frozen 2D prior serves all three.
    """
    return pipeline(
        [
            _train_node("liftnet", override=False),
            _train_node("liftnet_weak", override=True),
            _train_node("liftnet_reference", override=True),
        ]
    )
