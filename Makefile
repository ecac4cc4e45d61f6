# orch: `make demo` (install, lab, seed play) and `make test` (install, whole suite).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install system-deps bytecode test lint demo lab-up lab-down fleet-up fleet-down bench clean

install: system-deps $(STAMP) bytecode

# Compiled bytecode for orch itself, even where PYTHONDONTWRITEBYTECODE is set (Python still
# reads .pyc files it finds): without it every command compiles orch again, ~70 ms of CPU.
bytecode: $(STAMP)
	@$(BIN)/python -m compileall -q orch >/dev/null

system-deps:
	@bash scripts/system-deps.sh

$(STAMP): setup.cfg pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]' --config-settings editable_mode=compat
	@touch $(STAMP)

lint: install
	$(BIN)/ruff check orch tests bench

test: install
	$(BIN)/ruff check orch tests bench
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

demo: install
	@bash scripts/demo.sh

lab-up: install
	$(BIN)/orch lab up

lab-down: install
	$(BIN)/orch lab down

# The realistic fleet (netns hosts, real sshd and sudo; root only): see tests/realfleet/README.md.
FLEET_DIR ?= .fleet
fleet-up: system-deps
	/usr/bin/python3 scripts/fleet.py up $(FLEET_DIR)

fleet-down:
	/usr/bin/python3 scripts/fleet.py down $(FLEET_DIR)

# Benchmarks against Ansible, pyinfra and the bare-SSH floor (long: ~45 min); see bench/REPORT.md.
bench: install
	$(BIN)/python bench/run.py all --hosts 200 --pairs 3

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
