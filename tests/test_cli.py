"""The front door: ``epoch-kedro`` lists its commands, and without one it runs nothing."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.reliability.cases import ROOT


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "epoch_kedro", *args], capture_output=True,
                          text=True, cwd=ROOT, check=False, timeout=120)  # fmt: skip


def test_help_lists_the_commands_and_logs_nothing():
    result = _cli("--help")
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout.startswith("usage: epoch-kedro COMMAND")
    for command in ("run", "predict", "adapt"):
        assert f"\n  {command} " in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [((), "usage: epoch-kedro COMMAND"), (("trian",), "unknown command 'trian'")],
)
def test_no_or_an_unknown_command_runs_nothing(args, message):
    result = _cli(*args)
    assert result.returncode == 2 and message in result.stderr
    assert "INFO" not in result.stderr + result.stdout  # no Kedro session, no log


def test_adapt_is_predict_adapt():
    result = _cli("adapt", "--help")
    assert result.returncode == 0 and "--adapt-steps" in result.stdout
