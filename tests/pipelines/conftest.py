"""One smoke-profile ``kedro run --pipeline=full`` per test session, shared by every module.

The full chain is the slowest thing the suite does; the run, report, notebook and viz tests all
read the same outputs, so they share one scratch project instead of running it each.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.pipelines.test_run_smoke import ROOT, kedro_run, make_project


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory) -> Path:
    """A scratch project (our conf, src and notebooks) after a smoke ``--pipeline=full`` run."""
    project = make_project(tmp_path_factory.mktemp("smoke"))
    shutil.copytree(ROOT / "notebooks", project / "notebooks")
    result = kedro_run(project, "--pipeline=full")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return project
