"""The ``full`` pipeline: the sum of all stages, in data-flow order."""

from __future__ import annotations

from importlib import import_module

from kedro.pipeline import Pipeline

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
    """Each stage's pipeline, by name."""
    return {
        name: import_module(f"epoch_kedro.pipelines.{name}").create_pipeline() for name in STAGES
    }


def create_pipeline(**kwargs) -> Pipeline:
    """All stages chained (Kedro orders nodes by their data dependencies)."""
    return sum(stage_pipelines().values(), Pipeline([]))
