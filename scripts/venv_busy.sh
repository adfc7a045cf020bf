#!/usr/bin/env bash
# venv_busy.sh DIR: print the PIDs of the processes that use the virtual environment DIR and
# exit 0, or exit 1 if none does. A process uses it if it has a file of DIR mapped in memory,
# as every Python that imported numpy or jax from it has. `make setup` asks before it rebuilds
# .venv with `venv --clear`, which would pull the files from under a running experiment.
# Linux (/proc); elsewhere it finds none.
set -uo pipefail

dir=$(cd "${1:?usage: venv_busy.sh DIR}" 2>/dev/null && pwd -P) || exit 1
pids=()
for maps in /proc/[0-9]*/maps; do
  pid=${maps#/proc/}
  pid=${pid%/maps}
  [ "$pid" = "$$" ] && continue
  grep -qF "$dir/" "$maps" 2>/dev/null && pids+=("$pid")
done
[ ${#pids[@]} -gt 0 ] || exit 1
echo "${pids[*]}"
