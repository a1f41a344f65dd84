# The README's set-up commands. `make demo` runs the main job, `make test` the test suite.
# Both create .venv and install the project (torch pinned to the CPU build 2.13.0).
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: install demo test bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[ml,dev,ray,openai,serve,verl,openrlhf,lmeval,verifiers]"
	# without their deps: verl pins transformers<5.11, openrlhf needs flash-attn (CUDA build); tests use their reward paths
	$(PY) -m pip install -q --no-deps verl==0.9.1 openrlhf==0.11.2
	touch $@

install: $(VENV)/.installed

# cpu-quick: 3 training seeds. The load average before and after goes beside the report's stage times
# (on a shared machine wall times grow with the load).
demo: install
	@uptime
	$(VENV)/bin/feasgym study --profile cpu-quick --out runs/study-cpu-quick
	@uptime

# Two workers (pytest-xdist) share one reference cache, so each OPF is solved once.
test: install
	FEASGYM_CACHE="$${FEASGYM_CACHE:-$(CURDIR)/.feasgym-cache}" $(PY) -m pytest -q -n 2 --durations=15

bench: install
	$(PY) benchmarks/bench_acopf_score.py
	$(PY) benchmarks/bench_families.py
	$(PY) benchmarks/bench_numeric.py

clean:
	rm -rf $(VENV) .pytest_cache
