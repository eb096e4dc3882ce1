"""Every command in the bash blocks of README.md and docs/*.md runs as written.

Each command is read by its tool's own parser, not run: Kedro's ``run`` command (then the
pipelines, profile and ``--params`` it names are checked against the registry, ``conf/`` and
the typed parameter groups), the project's ``epoch-kedro`` parsers, DVC's and torchrun's
parsers; ``make`` targets, scripts and notebooks must exist, and a script's options must be
among those it declares. ``epoch-kedro --help`` is run. Training and predicting are left to
the pipeline tests.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELLS = ("bash", "sh", "shell", "console")
#: Shell set-up that names nothing of the project's.
SKIPPED = ("source", "cd", "export")


def _blocks(path: Path):
    """(line number, text) of each logical line of each bash block (continuations joined)."""
    fence, pending = None, ""
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip().startswith("```"):
            fence = None if fence is not None else line.strip()[3:].strip()
            continue
        if fence not in SHELLS:
            continue
        text = pending + line.strip()
        if text.endswith("\\"):
            pending = text[:-1] + " "
            continue
        pending = ""
        yield number, text


def doc_commands() -> list[tuple[str, list[str]]]:
    """``(file:line, argv)`` of every documented command; ``.venv/bin/`` is dropped and
    variables assigned in a block (``P=...``) are substituted."""
    out = []
    for path in DOCS:
        variables: dict[str, str] = {}
        for number, text in _blocks(path):
            for name, value in variables.items():
                text = text.replace(f"${name}", value)
            argv = shlex.split(text, comments=True)
            if not argv:
                continue
            assignment = re.fullmatch(r"([A-Z_]+)=(\S+)", argv[0])
            if assignment and len(argv) == 1:
                variables[assignment[1]] = assignment[2]
                continue
            argv[0] = argv[0].removeprefix(".venv/bin/")
            out.append((f"{path.relative_to(ROOT)}:{number}", argv))
    return out


COMMANDS = doc_commands()


def _make(args: list[str]) -> None:
    targets = set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), re.M))
    assert set(args) <= targets, f"make targets {sorted(set(args) - targets)} not in the Makefile"


def _kedro(args: list[str]) -> None:
    if args[0] == "viz":
        pytest.importorskip("kedro_viz")
        return
    assert args[0] == "run", f"kedro {args[0]}: not a command the docs should need"
    _kedro_run(args[1:])


def _kedro_run(args: list[str]) -> None:
    from kedro.config import OmegaConfigLoader
    from kedro.framework.cli.project import run

    from epoch_kedro.parameters import check_parameters
    from epoch_kedro.pipeline_registry import register_pipelines
    from epoch_kedro.utils.config import deep_merge

    options = run.make_context("run", list(args)).params
    names = [*options["pipelines"], *([options["pipeline"]] if options["pipeline"] else [])]
    names = [n for name in names for n in name.split(",")]
    registered = register_pipelines()
    assert set(names) <= set(registered), (
        f"unknown pipelines {sorted(set(names) - set(registered))}"
    )
    env = options["env"] or "local"
    assert env == "local" or (ROOT / "conf" / env).is_dir(), f"no profile conf/{env}"
    loader = OmegaConfigLoader(str(ROOT / "conf"), base_env="base", default_run_env=env)
    check_parameters(deep_merge(loader["parameters"], options["params"] or {}))


def _epoch_kedro(args: list[str]) -> None:
    from epoch_kedro.__main__ import main
    from epoch_kedro.predict.cli import _parser

    if args == ["--help"]:
        with contextlib.redirect_stdout(io.StringIO()) as out, pytest.raises(SystemExit) as end:
            main(["--help"])
        assert end.value.code == 0 and "predict" in out.getvalue()
    elif args[0] in ("predict", "adapt"):
        _parser().parse_args(args[1:])  # argparse exits (status 2) on a bad option
    else:
        assert args[0] == "run", f"epoch-kedro {args[0]}: no such command"
        _kedro_run(args[1:])


def _dvc(args: list[str]) -> None:
    from dvc.cli import parse_args

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        parse_args(args)  # raises on an unknown command or option
    for arg in args:  # -S FILE:KEY=VALUE of `dvc exp run`: the file and group exist
        if ".yml:" in arg:
            file, key = arg.split(":", 1)
            assert (ROOT / file).is_file(), file
            assert key.split(".")[0] + ":" in (ROOT / file).read_text(), key


def _torchrun(args: list[str]) -> None:
    from torch.distributed.run import get_args_parser

    from epoch_kedro.train import TRAINING_STAGES

    parsed = get_args_parser().parse_args(args)
    assert parsed.module and parsed.training_script == "epoch_kedro.train"
    assert parsed.training_script_args[0] in TRAINING_STAGES
    _kedro_run(["--pipelines", *parsed.training_script_args])


def _python(args: list[str]) -> None:
    script = ROOT / args[0]
    assert script.is_file(), f"no script {args[0]}"
    source = script.read_text()
    for option in (a.split("=")[0] for a in args[1:] if a.startswith("--")):
        assert f'"{option}"' in source, f"{args[0]} declares no option {option}"
    for arg in args[1:]:
        if arg.startswith(("experiments/", "benchmarks/")):
            assert (ROOT / arg).exists(), arg


def _jupyter(args: list[str]) -> None:
    assert args[0] == "execute" and all((ROOT / a).is_file() for a in args[1:] if "/" in a)


CHECKS: dict[str, Callable[[list[str]], None]] = {
    "make": _make,
    "kedro": _kedro,
    "epoch-kedro": _epoch_kedro,
    "dvc": _dvc,
    "torchrun": _torchrun,
    "python": _python,
    "jupyter": _jupyter,
}


def test_the_docs_show_every_kind_of_command():
    programs = {argv[0] for _, argv in COMMANDS}
    assert {"make", "kedro", "epoch-kedro", "dvc"} <= programs
    assert len(COMMANDS) >= 40


@pytest.mark.parametrize("where, argv", COMMANDS, ids=[w for w, _ in COMMANDS])
def test_documented_command_runs_as_written(where, argv):
    if argv[0] in SKIPPED:
        return
    assert argv[0] in CHECKS, f"{where}: `{argv[0]}` is no command of this project's tools"
    CHECKS[argv[0]](argv[1:])


def test_a_wrong_command_is_caught():
    with pytest.raises(AssertionError, match="unknown pipelines"):
        _kedro_run(["--pipelines", "ful"])
    with pytest.raises(Exception, match="liftnett"):
        _kedro_run(["--params", "liftnett.loop.epochs=3"])
    with pytest.raises(SystemExit):
        _epoch_kedro(["predict", "x.json", "--out", "p", "--fovv", "60"])
    with pytest.raises(Exception):  # noqa: B017 - DVC's parser error class is private
        _dvc(["metrics", "shw"])
    with pytest.raises(AssertionError, match="not in the Makefile"):
        _make(["rnu"])


def test_the_readme_is_short_and_links_every_doc():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 300
    unlinked = [d.name for d in DOCS[1:] if f"](docs/{d.name}" not in readme]
    assert not unlinked, f"docs not linked from the README: {unlinked}"
