"""Project CLI: ``kedro run`` as Kedro's, with the project's own errors in one line.

A bad parameter, a damaged dataset or a missing model raises an
:class:`~epoch_kedro.errors.EpochError` whose message names the file, key or parameter and
what was expected. Kedro would print it after hundreds of lines of traceback; this ``run``
prints the line alone and exits with status 1. ``EPOCH_VERBOSE=1`` shows the traceback.
Other exceptions (bugs) keep their traceback.
"""

from __future__ import annotations

import sys
from typing import Any

import click
from kedro.framework.cli.project import run as kedro_run

from epoch_kedro.errors import ParameterError, explained, verbose


@click.group(name="epoch_kedro")
def cli() -> None:
    """Commands of the epoch_kedro project."""


def _check_pipeline_names(pipeline: str | None, pipelines: Any) -> None:
    """A pipeline name the registry lacks, in one line (Kedro raises it inside a traceback)."""
    from epoch_kedro.pipeline_registry import register_pipelines

    given = [*(pipelines or ()), *([pipeline] if pipeline else [])]
    names = [name.strip() for item in given for name in str(item).split(",") if name.strip()]
    known = sorted(name for name in register_pipelines() if not name.startswith("__"))
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ParameterError(
            f"--pipelines {','.join(unknown)}: no such pipeline; choose from {', '.join(known)}"
        )


def _run(**kwargs: Any) -> Any:
    try:
        _check_pipeline_names(kwargs.get("pipeline"), kwargs.get("pipelines"))
        return kedro_run.callback(**kwargs)
    except Exception as exc:
        error = explained(exc)
        if error is None or verbose():
            raise
        message = " ".join(str(error).split())  # one line, whatever the message held
        click.secho(f"Error: {message}", fg="red", err=True)
        click.echo("(EPOCH_VERBOSE=1 shows the traceback)", err=True)
        sys.exit(1)


#: ``kedro run`` of this project (``python -m epoch_kedro`` finds it here by name).
run = click.Command(
    name="run",
    params=kedro_run.params,
    callback=_run,
    help=kedro_run.help,
    short_help=kedro_run.short_help,
)
cli.add_command(run)
