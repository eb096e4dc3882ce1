"""The ``adapt`` pipeline: the ``cross_dataset`` evaluation with the three LiftNets adapted to
the tested dataset's 2D, the adapted and the un-adapted models reported side by side."""

from __future__ import annotations

from kedro.pipeline import Pipeline, node, pipeline

from epoch_kedro.pipelines.adapt.nodes import adapt_liftnets
from epoch_kedro.pipelines.cross_dataset import pipeline as cross_dataset
from epoch_kedro.pipelines.evaluation.pipeline import ADAPTED_MODELS

NAMESPACE = cross_dataset.NAMESPACE
TRAINED = ("liftnet_model", "liftnet_weak_model", "liftnet_reference_model")


def create_pipeline(**kwargs) -> Pipeline:
    """The tested dataset's test split -> the adapted LiftNets -> the cross-dataset metrics and
    report with both."""
    adapting = pipeline(
        [
            node(
                adapt_liftnets,
                inputs=["model_input_test", *TRAINED, "params:adapt", cross_dataset.TESTED],
                outputs=list(ADAPTED_MODELS),
                name="adapt_liftnets",
                tags=["training"],
            )
        ],
        namespace=NAMESPACE,
        inputs={name: name for name in TRAINED},
        parameters={"params:adapt": "params:adapt", cross_dataset.TESTED: cross_dataset.TESTED},
    )
    return cross_dataset.create_pipeline(adapted=True) + adapting
