#!/usr/bin/env bash
# Issue 22, item 5: read the TEST splits once, at the end, for the chosen model and its baselines, on the
# out-of-domain benchmark and on mini-LAPE (LAPE protocol, 3 probe seeds). Run it only after the choice
# is written down (docs/results.md): a model whose test results exist is never evaluated again here.
#
#   bash scripts/test-once.sh runs/test-once chosen=runs/long-nofreq/model default=slicer_embed/weights \
#       random=random logmel=logmel
#   slicer-embed eval --compare runs/test-once/bench/* --out runs/test-once/bench-table
set -euo pipefail
OUT=${1:?usage: test-once.sh OUT TAG=MODEL...}; shift
BENCH=${BENCH:-data/benchmark}
ML=${MINILAPE:-data/minilape}
source "$(dirname "$0")/task-lists.sh"  # BTASKS, MTASKS
for pair in "$@"; do
  tag=${pair%%=*}; model=${pair#*=}
  for which in bench minilape; do
    tasks=$BTASKS; [[ $which == minilape ]] && tasks=$MTASKS
    dest=$OUT/$which/$tag
    # an interrupted evaluation wrote no results.json and is run again; a finished one is never repeated
    if [[ -f $dest/results.json ]]; then echo "test-once: $dest: the test splits were read for $tag: skipped"; continue; fi
    SLICER_EMBED_PRECISION=float32 slicer-embed eval --model "$model" --tasks "$tasks" --out "$dest" \
      --seeds 3 --no-progress
  done
done
