"""Pipeline registry and catalog conventions."""

from __future__ import annotations

from pathlib import Path

import yaml

from epoch_kedro.pipeline_registry import register_pipelines
from epoch_kedro.pipelines.full import STAGES

ROOT = Path(__file__).resolve().parents[2]


def test_registry_has_every_stage_full_and_default():
    pipelines = register_pipelines()
    assert set(pipelines) == {*STAGES, "full", "__default__"}
    full_nodes = {n.name for n in pipelines["full"].nodes}
    stage_nodes = {n.name for name in STAGES for n in pipelines[name].nodes}
    assert full_nodes == stage_nodes
    assert pipelines["__default__"] is pipelines["full"]


def test_full_is_importable_on_its_own():
    """``kedro run --pipeline=full`` imports only ``pipelines.full``: it must build alone."""
    from epoch_kedro.pipelines.full import create_pipeline

    assert len(create_pipeline().nodes) == len(register_pipelines()["full"].nodes)


def test_every_artifact_is_in_the_catalog_with_a_viz_layer():
    catalog = yaml.safe_load((ROOT / "conf/base/catalog.yml").read_text())
    datasets = register_pipelines()["full"].datasets()
    artifacts = {d for d in datasets if not d.startswith("params:") and d != "parameters"}
    missing = sorted(artifacts - set(catalog))
    assert not missing, f"artifacts not declared in conf/base/catalog.yml: {missing}"
    no_layer = sorted(
        d for d in artifacts if not catalog[d].get("metadata", {}).get("kedro-viz", {}).get("layer")
    )
    assert not no_layer, f"catalog entries without a kedro-viz layer: {no_layer}"


def test_every_stage_has_its_parameter_file():
    for stage in STAGES:
        assert (ROOT / f"conf/base/parameters_{stage}.yml").is_file(), stage
        assert (ROOT / f"src/epoch_kedro/pipelines/{stage}/nodes.py").is_file(), stage
        assert (ROOT / f"src/epoch_kedro/pipelines/{stage}/pipeline.py").is_file(), stage
