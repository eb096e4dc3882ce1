# Two entry points for a fresh machine: `make run` (the default pipeline) and `make test`.
# Both create the virtual environment on first use and re-install when pyproject.toml changes.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DVC_NO_ANALYTICS := 1
export KEDRO_DISABLE_TELEMETRY := 1

.PHONY: setup run test lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

run: setup
	$(BIN)/kedro run --pipeline=full

test: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

bench: setup
	$(BIN)/python benchmarks/bench_synthetic.py
	$(BIN)/python benchmarks/bench_render.py
	$(BIN)/python benchmarks/bench_liftnet.py
	$(BIN)/python benchmarks/bench_regnet.py
	$(BIN)/python benchmarks/bench_predict.py
	$(BIN)/python benchmarks/bench_predict_images.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
