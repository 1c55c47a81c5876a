# Two commands do all set-up: `make demo` and `make test` (each creates .venv if missing).
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
PY := $(VENV)/bin/python
STAMP := $(VENV)/.pysciml-installed

.PHONY: venv demo test test-all lint bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/pysciml demo --out out/demo

test: $(STAMP)
	$(PY) -m pytest

test-all: $(STAMP)
	$(PY) -m pytest -m "slow or not slow"

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(PY) benchmarks/bench_explicit.py --quick
	$(PY) benchmarks/bench_ground_truth.py --quick
	$(PY) benchmarks/bench_regularizers.py --quick
	$(PY) benchmarks/bench_step_growth.py --quick
	$(PY) benchmarks/bench_rollout.py --quick
	$(PY) benchmarks/bench_compat.py --quick
	$(PY) benchmarks/bench_snet.py --quick
	$(PY) benchmarks/bench_stability.py --quick

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache
