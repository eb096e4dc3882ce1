"""Kedro hooks: every parameter is checked when a run starts, before any node writes."""

from __future__ import annotations

from typing import Any

from kedro.framework.hooks import hook_impl

from epoch_kedro.parameters import check_parameters


class ParameterChecks:
    """Refuse a run whose parameters are out of range, before anything is written."""

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        check_parameters(catalog.load("parameters"))
