#!/usr/bin/env bash
# The contrastive-scale study of docs/pretrain.md ("Continuing from an MLM-trained encoder"):
# train an MLM-only parent (as the paper continues XLM-R), continue it with the knowledge tasks under
# each setting for the same number of steps, three seeds each, and compare held-out XEP/XOR (the in-batch
# check in each run's results.jsonl and the 512-candidate probes) and the MLM loss.
#   bash examples/contrastive_scale_study.sh [OUT] [SEEDS]     e.g. OUT=runs/contrastive-scale SEEDS=1,2,3
# Environment: STEPS (default 300), JOBS (sweeps run at once, default 2; each uses one thread),
#              SIZE (the parent's encoder size, default tiny; small costs about 16x the CPU a step).
# Then: python examples/contrastive_scale_table.py OUT        (the table of docs/pretrain.md)
#       xlmk results OUT/cosine-seed* --plot OUT/temperature.png   (the figure: the seeds' sweeps pooled,
#                                                                    their std as error bars)
set -euo pipefail
OUT=${1:-runs/contrastive-scale}
SEEDS=${2:-1,2,3}
STEPS=${STEPS:-300}
JOBS=${JOBS:-2}
SIZE=${SIZE:-tiny}
# a tiny encoder gains nothing from a second thread, and the study is budgeted in CPU time
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

xlmk pretrain --recipe mlm-only-tiny --set encoder.size="$SIZE" --out "$OUT/parent"
xlmk probe xep --recipe xep-tiny --model "$OUT/parent/final" --out "$OUT/parent-probe/xep"
xlmk probe xor --recipe xor-tiny --model "$OUT/parent/final" --out "$OUT/parent-probe/xor"

FROM=(--set encoder.kind=hf-masked-lm --set "encoder.path=$OUT/parent/final"
      --set optim.max_steps="$STEPS" --set optim.warmup_steps=$((STEPS / 10)) --set run.save_every=100000)
mkdir -p "$OUT/logs"
run() {  # one sweep in the background, at most JOBS at once; its log in OUT/logs
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || { echo "a sweep failed: see $OUT/logs" >&2; exit 1; }; done
  local out=$1; shift
  xlmk sweep "$@" "${FROM[@]}" --then "probe xep,xor" --out "$out" > "$OUT/logs/$(basename "$out").log" 2>&1 &
}
# (a) Eq. 5 as written, (c) the released code's variant, and xlmk-continued-tiny (the recipe that learns)
for recipe in xlmk-literal-tiny xlmk-released-tiny xlmk-continued-tiny; do
  run "$OUT/$recipe" --recipe "$recipe" --vary "seed=$SEEDS"
done
# (b) the literal form with cosine similarity, one sweep over the temperature per seed (the figure)
for seed in ${SEEDS//,/ }; do
  run "$OUT/cosine-seed$seed" --recipe xlmk-literal-tiny --set seed="$seed" --set loss.similarity=cosine \
      --vary loss.temperature=0.05,0.1,0.2
done
while [ "$(jobs -rp | wc -l)" -gt 0 ]; do wait -n || { echo "a sweep failed: see $OUT/logs" >&2; exit 1; }; done
