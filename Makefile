# The two commands of the README. Each sets up what it needs (idempotent, fast when present).
#   make demo   build, push and deploy the whole stack to a local Hetzner-like server over SSH (docs/demo.md)
#   make test   every quality gate and test suite; ends with a pytest summary line
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
# The suites wait on containers far more than they compute: more workers than cores pays off.
# --dist loadfile keeps each test file on one worker: its containers have fixed names.
PYTEST_WORKERS ?= 3
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: setup test demo demo-down lint sanity unit pytest build

setup:
	@scripts/setup

# lint and sanity run beside pytest (scripts/test): they wait for nothing, pytest mostly for containers.
test: setup
	@scripts/test

demo: setup
	@scripts/demo

demo-down:
	@scripts/demo down

lint:
	@echo "==> yamllint"; $(BIN)/yamllint --strict .
	@echo "==> ansible-lint (production profile)"; $(BIN)/ansible-lint --profile production -q

sanity:
	@echo "==> ansible-test sanity"; scripts/sanity

# Unit, integration and molecule suites in one pytest run: one summary line for everything.
# The files marked pytest.mark.minutes start first, longest first, each on a worker of its own
# (tests/support/schedule.py), so that no worker starts one of them when the others are nearly done.
PYTEST_PATHS ?= tests/e2e tests/molecule tests/integration tests/unit
pytest:
	@echo "==> pytest"; $(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile --durations=15 $(PYTEST_ARGS) $(PYTEST_PATHS)

unit:
	@$(BIN)/pytest tests/unit $(PYTEST_ARGS)

build:
	@$(BIN)/ansible-galaxy collection build --force --output-path .state/dist .
