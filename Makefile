# Two commands on a fresh machine: `make demo` and `make test`.
# TORCH_SPEC picks the PyTorch build. The default is the CPU build; on a CUDA machine use e.g.
#   make demo TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128"
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
export RAY_USAGE_STATS_ENABLED ?= 0

.PHONY: demo test lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q $(TORCH_SPEC)
	$(PIP) install -q -e ".[dev]"
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/rayboost run examples/digits.yaml --set storage=$(CURDIR)/rayboost_results

test: $(VENV)/.installed
	$(PY) -m pytest -q

bench: $(VENV)/.installed
	$(PY) -m benchmarks

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check rayboost jobs tests benchmarks examples
	$(VENV)/bin/ruff format --check rayboost jobs tests benchmarks examples

clean:
	rm -rf $(VENV) rayboost_results
