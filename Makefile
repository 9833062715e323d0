# Two entry points work on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TRANSFORMERS_NO_ADVISORY_WARNINGS := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install test test-fast test-tf4 demo bench clean

# transformers 4.57 (the last 4.x minor) laid over the main venv: only the packages whose versions 4.57 needs
# (pip's resolution of transformers==4.57.6 'datasets<5' against .venv); everything else is shared
TF4 := .venv-tf4
TF4_PINS := transformers==4.57.6 tokenizers==0.22.2 huggingface_hub==0.36.2 datasets==4.8.5 fsspec==2026.2.0 \
	httpx==0.28.1 httpcore==1.0.9 aiohttp==3.14.5 aiohappyeyeballs==2.7.1 aiosignal==1.4.0 frozenlist==1.8.0 \
	multidict==7.2.1 propcache==0.5.4 yarl==1.25.1
TF4_RUN := PYTHONPATH=$(CURDIR)/$(TF4) $(BIN)/python

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
	$(MAKE) test-tf4

$(TF4)/.installed: Makefile $(BIN)/xlmk
	rm -rf $(TF4)
	$(BIN)/pip install -q --no-deps --target $(TF4) $(TF4_PINS)
	$(TF4_RUN) -m pip check
	@touch $@

# the fast suite again under transformers 4.57
test-tf4: install $(TF4)/.installed
	$(TF4_RUN) -c "import sys, transformers as t; sys.exit(0 if t.__version__.startswith('4.57.') else f'not 4.57: {t.__file__}')"
	$(TF4_RUN) -m pytest -q -m "not gpu and not slow"

test-fast: install
	$(BIN)/pytest -q -m "not gpu and not slow"

demo: install
	$(BIN)/xlmk demo --out runs/demo

bench: install
	$(BIN)/pytest -q benchmarks --benchmark-only -s -p no:cacheprovider

clean:
	rm -rf $(VENV) $(TF4) runs .pytest_cache
