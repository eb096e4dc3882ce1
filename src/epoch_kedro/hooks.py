"""Kedro hooks: parameters checked before anything is written, the run's provenance handed to
the report, and the report's headline and path logged at the end."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from kedro.config import OmegaConfigLoader
from kedro.framework.hooks import hook_impl

from epoch_kedro.parameters import check_parameters

logger = logging.getLogger(__name__)

#: The in-memory dataset the report reads the run's provenance from.
RUN_INFO = "run_info"


class RunHooks:
    """Refuse bad parameters before any node runs; record where the run came from; say where
    the report is."""

    def __init__(self) -> None:
        self._report: Path | None = None

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        params = catalog.load("parameters")
        check_parameters(params)
        project = Path(run_params.get("project_path") or Path.cwd())
        if RUN_INFO in pipeline.inputs():
            catalog[RUN_INFO] = _provenance(project, run_params, params)
        self._report = _report_path(catalog) if "report_html" in pipeline.outputs() else None

    @hook_impl
    def after_pipeline_run(self, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        if self._report is None or not self._report.is_file():
            return
        from epoch_kedro.reporting.findings import findings

        metrics = catalog.load("metrics")
        logger.info("%s", findings(metrics)[0])
        logger.info("The report is at %s", self._report)


def _provenance(project: Path, run_params: dict[str, Any], params: dict[str, Any]) -> dict:
    from epoch_kedro.reporting.findings import provenance

    conf = project / (run_params.get("conf_source") or "conf")
    defaults = OmegaConfigLoader(str(conf), base_env="base", default_run_env="base",
                                 merge_strategy={"parameters": "soft"})["parameters"]  # fmt: skip
    return provenance(project, run_params.get("env"), params, defaults)


def _report_path(catalog: Any) -> Path | None:
    """Where ``report_html`` is written (None when the catalog does not say)."""
    try:
        return Path(catalog.get("report_html")._filepath).resolve()
    except (AttributeError, KeyError, TypeError):
        return None
