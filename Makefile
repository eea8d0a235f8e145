# Every target does its own set-up: a fresh clone needs nothing but python3 (>= 3.10).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.rewardlab-installed
PRESET ?= tiny

.PHONY: setup test reproduce lab clean-artifacts

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: setup
	$(PY) -m pytest

reproduce: setup
	$(PY) -m rewardlab.reproduce --preset $(PRESET)

lab: setup
	$(VENV)/bin/jupyter lab notebooks/

clean-artifacts:
	rm -rf artifacts/
