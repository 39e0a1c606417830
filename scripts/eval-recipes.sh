#!/usr/bin/env bash
# Evaluate the trained recipes (scripts/train-default-model.sh) and the two baselines on mini-LAPE
# with the LAPE linear protocol (3 probe seeds), then build the comparison table and chart.
#
#   slicer-embed data minilape data/minilape
#   bash scripts/eval-recipes.sh            # -> runs/eval/<model>/, runs/eval/compare/results.{md,png}
set -euo pipefail
RUNS=${RUNS:-runs}
M=${MINILAPE:-data/minilape}
TASKS=$M/kws,$M/speaker,$M/language,$M/instrument,$M/expression,$M/bird
models=(logmel random)
for name in slicer no_kmix no_cluster mixup_rrc_instance slicer_long no_kmix_long; do
  [[ -f "$RUNS/$name/model/model.safetensors" ]] && models+=("$RUNS/$name/model")
done
results=()
for m in "${models[@]}"; do
  tag=$(basename "$(dirname "$m")"); [[ "$m" == logmel || "$m" == random ]] && tag=$m
  # the fast float32 path (same embeddings to ~1e-6), one thread: two evaluations fit side by side
  OMP_NUM_THREADS=1 SLICER_EMBED_PRECISION=float32 slicer-embed eval --model "$m" --tasks "$TASKS" --out "$RUNS/eval/$tag" --seeds 3 --no-progress
  results+=("$RUNS/eval/$tag")
done
slicer-embed eval --compare "${results[@]}" --out "$RUNS/eval/compare"
