# tracelab: `make up` starts the whole local lab, `make down` stops it.
# Everything runs through the project's own venv (uv, from uv.lock) and the
# stack runner in tracelab/stack (python -m tracelab.stack ...).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

# Pinned tool versions (UV_VERSION, OTELCOL_*, JAEGER_*): one source of truth.
include infra/versions.env
# Compose and Kubernetes targets, and TRACELAB_MODE (compose where Docker answers).
include mk/deploy.mk
# Load generation and the tracing-overhead benchmark.
include mk/bench.mk
# Debian's Chromium for the lab-console browser tests.
include mk/browser.mk

PYTHON_BOOTSTRAP ?= python3
UV_VENV := .tools/uv-venv
UV := $(UV_VENV)/bin/uv
UV_STAMP := $(UV_VENV)/.uv-$(UV_VERSION)
VENV := .venv
VENV_STAMP := $(VENV)/.uv-synced
PY := $(VENV)/bin/python
STACK := $(PY) -m tracelab.stack
PYTEST := $(VENV)/bin/pytest
RUFF := $(VENV)/bin/ruff
TEST_DIRS = $(wildcard tests/unit tests/config tests/compose tests/integration tests/e2e \
	tests/browser tests/bench tests/microbench tests/resilience)
COMPONENT ?=

.PHONY: help venv tools check-tools console-assets up up-local down status logs lint test test-unit \
	test-integration test-e2e test-resilience clean clean-tools

help: ## List the targets.
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | \
		awk -F'\t' '{printf "  make %-18s %s\n", $$1, $$2}'

# --- bootstrap -----------------------------------------------------------------
$(UV_STAMP):
	@test -x $(UV_VENV)/bin/python || $(PYTHON_BOOTSTRAP) -m venv $(UV_VENV)
	$(UV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	@touch $@

$(VENV_STAMP): uv.lock pyproject.toml $(UV_STAMP)
	$(UV) sync --frozen
	@touch $@

venv: $(VENV_STAMP) ## Create/refresh .venv from uv.lock (installs uv into .tools/uv-venv first).

tools: venv ## Build the OpenTelemetry Collector and Jaeger into .tools/bin (cached).
	$(STACK) tools

check-tools: venv ## Build promtool into .tools/bin (cached), for the config checks of `make test`.
	$(STACK) tools --only promtool

console-assets: venv ## The console's pinned browser libraries (npm ci, once) into its static/vendor.
	$(PY) -m tracelab.console.assets

# --- local stack -----------------------------------------------------------------
# MODE=local|compose picks the mode; by default Compose where a Docker engine
# answers, else the local stack of plain processes.
up: ## Start the stack (local or Compose), wait until ready, print every URL.
	@mode=$(TRACELAB_MODE); echo "tracelab mode: $$mode"; \
	if [ "$$mode" = compose ]; then $(MAKE) compose-up; else $(MAKE) up-local; fi

up-local: venv tools console-assets
	$(STACK) up

down: ## Stop the stack (idempotent).
	@if [ "$(TRACELAB_MODE)" = compose ]; then $(MAKE) compose-down; \
	elif [ -x $(PY) ]; then $(STACK) down; else echo "no .venv: nothing to stop"; fi

status: ## Components with pid, alive, ready, URL.
	@if [ "$(TRACELAB_MODE)" = compose ]; then $(MAKE) compose-status; \
	else $(MAKE) venv && $(STACK) status; fi

logs: ## Last log lines of every component, or of COMPONENT=<name>.
	@if [ "$(TRACELAB_MODE)" = compose ]; then $(MAKE) compose-logs C=$(COMPONENT); \
	else $(MAKE) venv && $(STACK) logs $(COMPONENT); fi

# --- quality ------------------------------------------------------------------------
lint: venv ## ruff check.
	$(RUFF) check .

test: venv tools check-tools console-assets browser lint ## Lint, then every test tier (the microbenchmark runs once, untimed).
	$(PYTEST) $(TEST_DIRS) $(BENCH_TEST_FLAGS)

test-unit: venv ## Unit tests (no network, no servers).
	$(PYTEST) tests/unit

test-integration: venv tools console-assets ## Integration tests (real PostgreSQL, collector, Jaeger).
	$(PYTEST) tests/integration

test-e2e: venv tools console-assets ## End-to-end tests against the whole local stack.
	$(PYTEST) tests/e2e

test-resilience: venv tools ## Faults under load on the whole local stack; figures in results/resilience/.
	$(PYTEST) tests/resilience

# --- cleaning -------------------------------------------------------------------------
clean: down ## Stop the stack; remove .run and caches (keeps .venv and .tools).
	rm -rf .run .pytest_cache .ruff_cache
	find . -path ./.venv -prune -o -path ./.tools -prune -o -name __pycache__ -type d \
		-exec rm -rf {} +

clean-tools: ## Remove the built binaries and their stamps (next `make tools` rebuilds).
	rm -rf .tools/bin/otelcol .tools/bin/jaeger .tools/bin/promtool .tools/stamps \
		.tools/src/jaeger .tools/src/promtool .tools/otelcol-build .tools/logs
