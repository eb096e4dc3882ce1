"""dvc.yaml mirrors the Kedro pipelines: one stage each, with every artifact and input declared."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import pytest
import yaml
from kedro.config import OmegaConfigLoader

from epoch_kedro.pipeline_registry import register_pipelines
from epoch_kedro.pipelines.full import STAGES

ROOT = Path(__file__).resolve().parents[1]
DVC = yaml.safe_load((ROOT / "dvc.yaml").read_text())
CATALOG = {
    k: v
    for k, v in OmegaConfigLoader(str(ROOT / "conf"), base_env="base", default_run_env="local")[
        "catalog"
    ].items()
    if not k.startswith("_")  # YAML anchors
}


def _paths(entries: list) -> set[str]:
    """Paths of a dvc.yaml deps/outs/metrics/plots list (plain strings or one-key mappings)."""
    return {e if isinstance(e, str) else next(iter(e)) for e in entries or []}


def _declared(stage: dict, path: str, kinds: tuple[str, ...]) -> bool:
    paths = set().union(*(_paths(stage.get(kind)) for kind in kinds))
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in paths)


def test_one_stage_per_pipeline_running_it():
    assert list(DVC["stages"]) == list(STAGES)
    for name, stage in DVC["stages"].items():
        assert stage["cmd"] == f"kedro run --pipelines {name}"
        assert "conf/base/catalog.yml" in _paths(stage["deps"])
        assert (
            (ROOT / f"conf/base/parameters_{name}.yml")
            .as_posix()
            .endswith(next(iter(stage["params"][0])))
        )


@pytest.mark.parametrize("name", STAGES)
def test_stage_declares_its_outputs_inputs_and_sources(name):
    stage, pipe = DVC["stages"][name], register_pipelines()[name]
    for dataset in pipe.all_outputs():
        if CATALOG[dataset]["type"] == "MemoryDataset":  # lives within the stage's run
            continue
        path = CATALOG[dataset]["filepath"]
        assert _declared(stage, path, ("outs", "metrics", "plots")), (name, path)
    for dataset in pipe.inputs():
        if "filepath" in CATALOG.get(dataset, {}):  # in-memory datasets are no files
            assert _declared(stage, CATALOG[dataset]["filepath"], ("deps",)), (name, dataset)
    assert _declared(stage, f"src/epoch_kedro/pipelines/{name}/pipeline.py", ("deps",))
    for path in _paths(stage["deps"]):
        assert (ROOT / path).exists() or path.startswith("data/"), path


def test_kedro_versioning_is_off_and_git_sees_the_uncached_files():
    assert not [k for k, v in CATALOG.items() if v.get("versioned")]
    uncached = [
        path
        for stage in DVC["stages"].values()
        for kind in ("outs", "metrics", "plots")
        for entry in stage.get(kind) or []
        if isinstance(entry, dict)
        for path, opts in entry.items()
        if opts.get("cache") is False
    ]
    assert "data/08_reporting/metrics.json" in uncached
    # `cache: false` files live in git, so Kedro's `data/**` rule must not hide them.
    ignored = subprocess.run(
        ["git", "check-ignore", *uncached], cwd=ROOT, capture_output=True, text=True
    ).stdout.split()
    assert not ignored, f"git ignores DVC's uncached files: {ignored}"


def _module_file(module: str) -> Path | None:
    """Source file of an ``epoch_kedro`` module (package ``__init__`` or ``.py``), if any."""
    base = ROOT / "src" / Path(*module.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _imported_files(path: Path, seen: set[Path]) -> set[Path]:
    """Every project source file ``path`` imports, transitively (parsed, not executed)."""
    if path in seen:
        return seen
    seen.add(path)
    package = path.parent.relative_to(ROOT / "src").as_posix().replace("/", ".")
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            parts = package.split(".")
            base = node.module or ""
            if node.level:
                base = ".".join([*parts[: len(parts) - node.level + 1], *filter(None, [base])])
            names = [f"{base}.{alias.name}" for alias in node.names] + [base]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            # importing a.b.c runs a/__init__, a/b/__init__ and a/b/c
            for i in range(2, len(parts) + 1):
                found = _module_file(".".join(parts[:i]))
                if name.startswith("epoch_kedro") and found:
                    _imported_files(found, seen)
    return seen


@pytest.mark.parametrize("name", STAGES)
def test_stage_deps_cover_the_code_it_runs(name):
    """An edit to any module a stage imports must re-run it (`dvc repro` sees only deps)."""
    stage = DVC["stages"][name]
    pipeline = ROOT / f"src/epoch_kedro/pipelines/{name}/pipeline.py"
    trivial = {ROOT / "src/epoch_kedro/__init__.py", ROOT / "src/epoch_kedro/pipelines/__init__.py"}
    missing = sorted(
        f.relative_to(ROOT).as_posix()
        for f in _imported_files(pipeline, set()) - trivial
        if not _declared(stage, f.relative_to(ROOT).as_posix(), ("deps",))
    )
    assert not missing, f"stage {name} imports files that are not in its deps: {missing}"


@pytest.mark.parametrize("name", STAGES)
def test_stage_deps_name_no_code_it_does_not_run(name):
    """A source dep the stage never imports would re-run it after unrelated edits."""
    pipeline = ROOT / f"src/epoch_kedro/pipelines/{name}/pipeline.py"
    imported = {f.relative_to(ROOT).as_posix() for f in _imported_files(pipeline, set())}
    extra = []
    for dep in sorted(p for p in _paths(DVC["stages"][name]["deps"]) if p.startswith("src/")):
        files = [ROOT / dep] if dep.endswith(".py") else sorted((ROOT / dep).rglob("*.py"))
        extra += [f.relative_to(ROOT).as_posix() for f in files]
    extra = sorted(set(extra) - imported)
    assert not extra, f"stage {name} lists deps it never imports: {extra}"
