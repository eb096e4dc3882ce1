"""Kedro hooks: parameters checked before anything is written, the run's provenance handed to
the report, the report's files moved into place together at the end (or dropped on failure),
and the report's headline and path logged."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from kedro.config import OmegaConfigLoader
from kedro.framework.hooks import hook_impl

from epoch_kedro.datasets import atomic
from epoch_kedro.parameters import check_parameters

logger = logging.getLogger(__name__)

#: The in-memory dataset the report reads the run's provenance from.
RUN_INFO = "run_info"


class RunHooks:
    """Refuse bad parameters before any node runs; record where the run came from; say where
    the report is."""

    def __init__(self) -> None:
        self._report: tuple[str, str] | None = None

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        params = catalog.load("parameters")
        check_parameters(params)
        project = Path(run_params.get("project_path") or Path.cwd())
        if RUN_INFO in pipeline.inputs():
            catalog[RUN_INFO] = _provenance(project, run_params, params)
        self._report = _report_outputs(pipeline.outputs())
        _keep_outputs_in_memory_off_rank_0(pipeline, catalog)
        atomic.begin(_groups(pipeline, catalog))

    @hook_impl
    def after_pipeline_run(self, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        atomic.commit()
        path = _report_path(catalog, self._report)
        if path is None or not path.is_file():
            return
        from epoch_kedro.reporting.findings import findings

        metrics = catalog.load(self._report[1])
        logger.info("%s", findings(metrics)[0])
        logger.info("The report is at %s", path)

    @hook_impl
    def on_pipeline_error(self, error: Exception, run_params: dict[str, Any]) -> None:
        # The report's files change together or not at all.
        atomic.discard()


def _provenance(project: Path, run_params: dict[str, Any], params: dict[str, Any]) -> dict:
    from epoch_kedro.reporting.findings import provenance

    conf = project / (run_params.get("conf_source") or "conf")
    defaults = OmegaConfigLoader(str(conf), base_env="base", default_run_env="base",
                                 merge_strategy={"parameters": "soft"})["parameters"]  # fmt: skip
    return provenance(project, run_params.get("env"), params, defaults)


def _keep_outputs_in_memory_off_rank_0(pipeline: Any, catalog: Any) -> None:
    """Under torchrun every process runs the stage; only rank 0 writes its files."""
    from epoch_kedro.training.distributed import world

    if world().main:
        return
    from kedro.io import MemoryDataset

    for name in pipeline.all_outputs():
        catalog[name] = MemoryDataset()


def _groups(pipeline: Any, catalog: Any) -> dict[str, set[Path]]:
    """Per group, the grouped files this run writes (see :mod:`epoch_kedro.datasets.atomic`)."""
    groups: dict[str, set[Path]] = {}
    for name in pipeline.all_outputs():
        try:
            member = atomic.grouped(catalog.get(name))
        except (KeyError, TypeError, ValueError):
            member = None
        if member is not None:
            groups.setdefault(member[0], set()).add(member[1])
    return groups


def _report_outputs(outputs: set[str]) -> tuple[str, str] | None:
    """The report page and metrics a pipeline writes (``report_html`` and ``metrics``, or the
    same under a namespace, as the ``cross_dataset`` pipeline names them), if it writes one."""
    for name in sorted(outputs):
        namespace, _, base = name.rpartition(".")
        if base == "report_html":
            prefix = f"{namespace}." if namespace else ""
            return name, f"{prefix}metrics"
    return None


def _report_path(catalog: Any, report: tuple[str, str] | None) -> Path | None:
    """Where the report page is written (None when the run writes none or the catalog does not
    say)."""
    if report is None:
        return None
    try:
        return Path(catalog.get(report[0])._filepath).resolve()
    except (AttributeError, KeyError, TypeError):
        return None
