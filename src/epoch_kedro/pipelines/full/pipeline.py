"""The ``full`` pipeline: the sum of all stages, in data-flow order."""

from __future__ import annotations

from importlib import import_module

from kedro.pipeline import Pipeline, pipeline

#: The stages, in the order data flows through them. Later stages append themselves here.
STAGES: tuple[str, ...] = (
    "ingestion",
    "normalization",
    "regnet",
    "generate_inputs",
    "liftnet",
    "evaluation",
)


def stage_pipelines() -> dict[str, Pipeline]:
    """Each stage's pipeline, by name, as a namespace of the same name.

    The namespace groups a stage's nodes into one collapsible modular pipeline in ``kedro viz``
    (node names become ``<stage>.<node>``). Datasets and parameters keep their plain names
    (``prefix_datasets_with_namespace=False``): stages exchange data through the shared catalog,
    so ``raw_dataset`` must stay ``raw_dataset`` and not become ``ingestion.raw_dataset``.
    """
    return {
        name: pipeline(
            import_module(f"epoch_kedro.pipelines.{name}").create_pipeline(),
            namespace=name,
            prefix_datasets_with_namespace=False,
        )
        for name in STAGES
    }


def create_pipeline(**kwargs) -> Pipeline:
    """All stages chained (Kedro orders nodes by their data dependencies)."""
    return sum(stage_pipelines().values(), Pipeline([]))
