#!/usr/bin/env bash
# Print the path of a Python >= 3.12 to build .venv with (jax 0.12 needs it), or say in one
# line what to install. Tried in order: $PYTHON, python3.12 / python3.13 / python3 on PATH
# (a pyenv shim that cannot run counts as absent), then pyenv's own installed versions.
set -uo pipefail

ok() {  # ok CMD: CMD runs and is Python 3.12 or newer
  "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1
}

if [ -n "${PYTHON:-}" ]; then
  if ok "$PYTHON"; then command -v "$PYTHON" || echo "$PYTHON"; exit 0; fi
  echo "PYTHON=$PYTHON is not a runnable Python >= 3.12" >&2
  exit 1
fi

# 3.12 first: the stdlib corpora (char LM, sequence VAE) and so their numbers depend on it.
for cmd in python3.12 python3.13 python3; do
  if path=$(command -v "$cmd") && ok "$path"; then
    # A pyenv shim resolves to a different binary per directory: pin the real one.
    "$path" -c 'import sys; print(sys.executable)'
    exit 0
  fi
done

root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
if [ -d "$root/versions" ]; then
  for v in 3.12 3.13; do
    for py in $(ls -d "$root"/versions/"$v".*/bin/python"$v" 2>/dev/null | sort -V -r); do
      if ok "$py"; then echo "$py"; exit 0; fi
    done
  done
fi

echo "jaxgen needs Python >= 3.12 (jax 0.12): install python3.12 (e.g. 'pyenv install 3.12' or your OS package) or run make with PYTHON=/path/to/python3.12" >&2
exit 1
