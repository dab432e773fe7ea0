# make demo | make test | make verify | make bench — each sets up .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q

.PHONY: demo test verify bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.base: pyproject.toml | $(PY)
	$(PIP) install -e .
	touch $@

$(VENV)/.test: $(VENV)/.base pyproject.toml
	$(PIP) install -e ".[test,torch,jax,nn]"
	touch $@

$(VENV)/.bench: $(VENV)/.test pyproject.toml
	$(PIP) install -e ".[bench]"
	touch $@

demo: $(VENV)/.base
	$(PY) -m lowprec demo

test: $(VENV)/.test
	$(PY) -m pytest -n 2 -q -m "not slow"
	$(PY) -m verification --quick

verify: $(VENV)/.test
	HYPOTHESIS_PROFILE=verify $(PY) -m pytest -n 2 -q
	$(PY) -m verification

bench: $(VENV)/.bench
	$(PY) benchmarks/bench_chop.py --write benchmarks/RESULTS.md
	$(PY) benchmarks/bench_lpfloat.py --write benchmarks/RESULTS.md
	$(PY) benchmarks/sections.py torch benchmarks/RESULTS.md -- $(PY) benchmarks/bench_torch.py --repeat 5
	$(PY) benchmarks/sections.py jax benchmarks/RESULTS.md -- $(PY) benchmarks/bench_jax.py --repeat 3
	$(PY) benchmarks/sections.py quant benchmarks/RESULTS.md -- $(PY) benchmarks/bench_quant.py --repeat 5
	$(PY) benchmarks/sections.py exact benchmarks/RESULTS.md -- $(PY) benchmarks/bench_exact.py

clean:
	rm -rf $(VENV) build *.egg-info
