"""Project pipelines.

The registry is explicit rather than ``find_pipelines()``: Kedro narrows ``find_pipelines`` to
the names given on the command line, and ``full`` needs every stage imported. Listing the stages
in one place (``pipelines.full.STAGES``) keeps ``kedro run --pipeline=full``,
``--pipelines=full`` and ``kedro run`` (the default, also ``full``) equivalent.
"""

from __future__ import annotations

from kedro.pipeline import Pipeline

from epoch_kedro.pipelines import adapt, cross_dataset
from epoch_kedro.pipelines.full.pipeline import stage_pipelines


def register_pipelines() -> dict[str, Pipeline]:
    """Every stage by name, ``full`` (all stages), ``__default__`` (= ``full``) and
    ``cross_dataset`` (the trained models on another dataset's test set) and ``adapt`` (the
    same with the LiftNets adapted to that dataset's 2D); the last two are not part of ``full``."""
    pipelines = stage_pipelines()
    pipelines["full"] = sum(pipelines.values(), Pipeline([]))
    pipelines["__default__"] = pipelines["full"]
    pipelines["cross_dataset"] = cross_dataset.create_pipeline()
    pipelines["adapt"] = adapt.create_pipeline()
    return pipelines
