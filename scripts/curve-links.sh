#!/usr/bin/env bash
# Gather a run's evaluated curve points under one folder per kind, as scripts/summarize_curve.py reads them:
#   bash scripts/curve-links.sh DEST KIND_ROOT... -- TAG=step_N ...
# links DEST/<basename KIND_ROOT>/step_N -> KIND_ROOT/TAG (and every other TAG=NAME as NAME).
set -euo pipefail
dest=$1; shift
roots=()
while [[ $1 != -- ]]; do roots+=("$1"); shift; done; shift
for root in "${roots[@]}"; do
  mkdir -p "$dest/$(basename "$root")"
  for pair in "$@"; do
    tag=${pair%%=*}; name=${pair#*=}
    [[ -d "$root/$tag" ]] && ln -sfn "$(realpath "$root/$tag")" "$dest/$(basename "$root")/$name"
  done
done
