#!/usr/bin/env bash
# The contrastive-scale study of docs/pretrain.md ("Continuing from an MLM-trained encoder"):
# train an MLM-only parent (as the paper continues XLM-R), continue it with the knowledge tasks under
# several settings, the same number of steps each, and compare held-out XEP/XOR (the in-batch check in
# each run's results.jsonl and the 512-candidate probes) and the MLM loss.
#   bash examples/contrastive_scale_study.sh [OUT] [SEEDS]     e.g. OUT=runs/contrastive-scale SEEDS=1,2,3
# Then: xlmk results OUT/*/ ; xlmk results OUT/cosine-seed* --plot OUT/temperature.png
set -euo pipefail
OUT=${1:-runs/contrastive-scale}
SEEDS=${2:-1,2,3}
STEPS=${STEPS:-150}

xlmk pretrain --recipe mlm-only-tiny --out "$OUT/parent"
xlmk probe xep --recipe xep-tiny --model "$OUT/parent/final" --out "$OUT/parent-probe/xep"
xlmk probe xor --recipe xor-tiny --model "$OUT/parent/final" --out "$OUT/parent-probe/xor"

FROM=(--set encoder.kind=hf-masked-lm --set "encoder.path=$OUT/parent/final"
      --set optim.max_steps="$STEPS" --set optim.warmup_steps=$((STEPS / 10)) --set run.save_every=1000)
# (a) Eq. 5 as written, (c) the released code's variant, xlmk-tiny's settings, and xlmk-continued-tiny's
for recipe in xlmk-literal-tiny xlmk-released-tiny xlmk-tiny xlmk-continued-tiny; do
  xlmk sweep --recipe "$recipe" "${FROM[@]}" --vary "seed=$SEEDS" --then "probe xep,xor" --out "$OUT/$recipe"
done
# (b) the literal form with cosine similarity, one sweep over the temperature per seed (the figure)
for seed in ${SEEDS//,/ }; do
  xlmk sweep --recipe xlmk-literal-tiny "${FROM[@]}" --set seed="$seed" --set loss.similarity=cosine \
             --vary loss.temperature=0.05,0.1,0.2 --then "probe xep,xor" --out "$OUT/cosine-seed$seed"
done
