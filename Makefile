# Every target does its own set-up: a fresh clone needs nothing but python3 (>= 3.10).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.rewardlab-installed
PRESET ?= tiny
BENCH_ARGS ?=

.PHONY: setup test reproduce quick figures bench lab lock clean-artifacts

setup: $(STAMP)

# The exact versions of requirements.lock (those the committed runs were made with), then this package itself.
$(STAMP): pyproject.toml requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# Refresh requirements.lock: the newest versions pyproject.toml allows, resolved in a fresh environment.
# Runs made before the refresh then differ in the versions their metrics files record; re-run them.
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet torch==2.13.0 && .venv-lock/bin/pip install --quiet '.[dev]'
	{ sed -n '1,2p' requirements.lock; .venv-lock/bin/pip freeze --exclude-editable | grep -v '^rewardlab'; } > requirements.lock.tmp
	mv requirements.lock.tmp requirements.lock && rm -rf .venv-lock

test: setup
	$(PY) -m pytest

# The study tier (PRESET=tiny): every notebook into papermill_runs/ and figures/, then a reproduction report
# (REPRODUCTION.md: each metric against the committed run). Started again on the same machine, it skips the
# notebooks this machine finished whose code is unchanged; REPRODUCE_ARGS=--force runs them all again;
# ONLY=06 (or ONLY=02,06) runs and checks those notebooks.
REPRODUCE_ARGS ?=
ONLY ?=
reproduce: setup
	$(PY) -m rewardlab.reproduce --preset $(PRESET) $(if $(ONLY),--only $(ONLY)) $(REPRODUCE_ARGS)

# The quick teaching tier: the whole collection in minutes into quick_runs/ (git-ignored); verdicts underpowered.
quick: setup
	$(PY) -m rewardlab.reproduce --preset quick $(if $(ONLY),--only $(ONLY)) $(REPRODUCE_ARGS)

# Redraw figures/ and rewrite papermill_runs/SUMMARY.md from the saved runs: no training.
figures: setup
	$(PY) -m rewardlab.reporting.figures

# Side-by-side peer comparisons, the PPO profile and the grid -> benchmarks/RESULTS.md (about an hour on the 2-core machine; run it alone).
# BENCH_ARGS="--quick --output /tmp/bench_quick.md" checks the harness in a few minutes.
bench: setup
	$(PY) benchmarks/run_all.py $(BENCH_ARGS)

lab: setup
	$(VENV)/bin/jupyter lab notebooks/

clean-artifacts:
	rm -rf artifacts/
