#!/usr/bin/env bash
# The GPU check (benchmarks/gpu/check.py) with the offline environment it needs:
#   bash benchmarks/gpu/check.sh --out OUT [--dry] [--budget S] [--peak-tflops T] [--sections a,b]
# Runs from any folder; xlmk is imported from this checkout whether or not it is installed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_NO_ADVISORY_WARNINGS=1 TOKENIZERS_PARALLELISM=false
export XLMK_QUIET=1
# fewer fragments after the out-of-memory probes of the micro-batch search
export PYTORCH_CUDA_ALLOC_CONF="${PYTORCH_CUDA_ALLOC_CONF:-expandable_segments:True}"
if [ -z "${XLMK_XLMR_TOKENIZER:-}" ]; then
  for d in "$ROOT/../shared/xlmr-tokenizer" "$ROOT/shared/xlmr-tokenizer"; do
    if [ -f "$d/tokenizer.json" ]; then export XLMK_XLMR_TOKENIZER="$(cd "$d" && pwd)/tokenizer.json"; break; fi
  done
fi
PYTHON="${PYTHON:-python3}"
"$PYTHON" -c "import torch, transformers, accelerate, pyarrow, pydantic" || {
  echo "check.sh: the Python environment lacks xlmk's dependencies (pip install -e . first)" >&2; exit 2; }
exec "$PYTHON" "$ROOT/benchmarks/gpu/check.py" "$@"
