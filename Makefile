# Two entry points work on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TRANSFORMERS_NO_ADVISORY_WARNINGS := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install test test-fast demo bench clean

$(BIN)/xlmk: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first: 2.13.0 is a CPU wheel on this machine's disk; a bare `torch` pulls a CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	# [ray] (with [scale]) so that `make test` runs the parallel decoders and the Ray engine too
	$(BIN)/pip install -q -e '.[dev,ray]'
	@touch $@

install: $(BIN)/xlmk

test: install
	$(BIN)/pytest -q -m "not gpu" --durations=15

test-fast: install
	$(BIN)/pytest -q -m "not gpu and not slow"

demo: install
	$(BIN)/xlmk demo --out runs/demo

bench: install
	$(BIN)/pytest -q benchmarks --benchmark-only -s -p no:cacheprovider

clean:
	rm -rf $(VENV) runs .pytest_cache
