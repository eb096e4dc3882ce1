# Two entry points for a fresh machine: `make run` (the default pipeline) and `make test`.
# Both create the virtual environment on first use and re-install when pyproject.toml changes.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DVC_NO_ANALYTICS := 1
export KEDRO_DISABLE_TELEMETRY := 1

.PHONY: setup run test lint bench clean devset

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# The run's outputs are then committed to DVC's cache (dvc.lock records them), so `dvc repro`
# finds everything up to date and `dvc checkout` can restore what a later run replaces.
run: setup
	$(BIN)/kedro run --pipelines=full
	@if [ -d .dvc ]; then $(BIN)/dvc commit --force --quiet && \
		echo "dvc: outputs committed to the cache; 'dvc status' is clean, 'dvc checkout' restores them"; fi

# The real development set (docs/DEVSET.md): fetches the Pose2Sim 0.8.4 wheel with pip, writes
# its two-person multi-view recording to data/01_raw/pose2sim_devset, adapts this run's LiftNets
# to its 2D (never its 3D; data/06_models/adapted/) and scores them, adapted and not, on it
# (08_reporting/cross_dataset/; docs/ADAPTATION.md). Needs the models of `make run`.
DEVSET := data/01_raw/pose2sim_devset
devset: setup
	@test -f data/06_models/liftnet.pt || { echo "make devset: no trained LiftNet in data/06_models; run 'make run' first" >&2; exit 2; }
	$(BIN)/python experiments/multiview_devset.py $(DEVSET)
	$(BIN)/kedro run --pipelines=adapt --params \
		"cross_dataset.dataset.kind=multiview,cross_dataset.dataset.root=$(DEVSET),cross_dataset.dataset.name=pose2sim_devset"

test: setup
	$(BIN)/ruff check src tests benchmarks experiments
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check src tests benchmarks experiments
	$(BIN)/ruff format --check src tests benchmarks experiments

bench: setup
	$(BIN)/python benchmarks/bench_synthetic.py
	$(BIN)/python benchmarks/bench_render.py
	$(BIN)/python benchmarks/bench_liftnet.py
	$(BIN)/python benchmarks/bench_precision.py
	$(BIN)/python benchmarks/bench_regnet.py
	$(BIN)/python benchmarks/bench_predict.py
	$(BIN)/python benchmarks/bench_predict_images.py
	$(BIN)/python benchmarks/bench_distributed.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
