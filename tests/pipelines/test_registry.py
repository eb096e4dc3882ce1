"""Pipeline registry and catalog conventions."""

from __future__ import annotations

from pathlib import Path

import yaml

from epoch_kedro.pipeline_registry import register_pipelines
from epoch_kedro.pipelines.full import STAGES

ROOT = Path(__file__).resolve().parents[2]


def test_registry_has_every_stage_full_and_default():
    pipelines = register_pipelines()
    assert set(pipelines) == {*STAGES, "full", "__default__", "cross_dataset", "adapt"}
    full_nodes = {n.name for n in pipelines["full"].nodes}
    stage_nodes = {n.name for name in STAGES for n in pipelines[name].nodes}
    assert full_nodes == stage_nodes
    assert pipelines["__default__"] is pipelines["full"]


def test_cross_dataset_runs_the_stages_own_nodes_under_its_namespace():
    """Cross-dataset evaluation re-implements nothing: each of its nodes is a node of a stage,
    and everything the other dataset produces carries the namespace."""
    pipelines = register_pipelines()
    stage_funcs = {n.name.split(".", 1)[1]: n.func for n in pipelines["full"].nodes}
    cross = pipelines["cross_dataset"]
    for n in cross.nodes:
        namespace, _, name = n.name.partition(".")
        assert namespace == "cross_dataset" and stage_funcs[name] is n.func, n.name
    assert {"ingest_dataset", "build_model_inputs", "evaluate_models", "build_report"} <= {
        n.name.split(".", 1)[1] for n in cross.nodes
    }
    assert all(name.startswith("cross_dataset.") for name in cross.outputs())
    assert not cross.outputs() & pipelines["full"].outputs()  # writes nothing of the run's


def test_adapt_is_cross_dataset_plus_adaptation_under_the_same_namespace():
    """The adapt pipeline adds the adaptation and the adapted models' predictions to the
    cross-dataset evaluation, and writes only under its namespace (never the run's models)."""
    pipelines = register_pipelines()
    cross, adapt = pipelines["cross_dataset"], pipelines["adapt"]
    names = {n.name for n in adapt.nodes}
    assert names - {n.name for n in cross.nodes} == {
        "cross_dataset.adapt_liftnets", "cross_dataset.predict_adapted"
    }  # fmt: skip
    assert all(name.startswith("cross_dataset.") for name in adapt.outputs())
    assert not adapt.all_outputs() & pipelines["full"].all_outputs()
    assert {"liftnet_model", "params:adapt"} <= adapt.inputs()


def test_cross_dataset_files_are_in_the_catalog_beside_the_runs():
    from kedro.config import OmegaConfigLoader
    from kedro.io import DataCatalog

    conf = OmegaConfigLoader(str(ROOT / "conf"), base_env="base", default_run_env="base")
    catalog = DataCatalog.from_config(conf["catalog"])
    for name in ("cross_dataset.metrics", "cross_dataset.report_html",
                 "cross_dataset.figure_skeletons_3d"):  # fmt: skip
        dataset = catalog.get(name)
        assert "/08_reporting/cross_dataset/" in str(dataset._filepath), name
        assert dataset.metadata["kedro-viz"]["layer"] == "reporting", name
    for name in ("liftnet", "liftnet_weak", "liftnet_reference"):
        dataset = catalog.get(f"cross_dataset.{name}_adapted_model")
        assert str(dataset._filepath).endswith(f"/06_models/adapted/{name}.pt"), name


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
