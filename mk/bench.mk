# Load generation and the tracing-overhead benchmark (docs/benchmark.md),
# included by the root Makefile (`include mk/bench.mk`). Uses the root
# Makefile's venv/tools targets and its PY/VENV/PYTEST variables.
#
#   make load          Locust, headless, against the local stack (started or
#                      restarted with loadtest/profiles/stack.env); CSV + HTML in
#                      $(LOAD_OUT). LOAD_PROFILE=smoke|steady|stress, LOAD_USERS,
#                      LOAD_SPAWN_RATE, LOAD_TIME override the profile.
#   make load-ui       Locust's web UI on http://127.0.0.1:$(LOAD_UI_PORT)
#   make bench         per-span microbenchmark + the full overhead benchmark
#                      (5 configurations x 5 rounds x 30 s: about 25 minutes),
#                      its load driven by Locust from loadtest/locustfile.py
#                      (BENCH_ARGS='--driver open-loop' for the open-loop generator,
#                      '--locustfile PATH' for your own workload)
#   make bench-quick   the overhead benchmark, short (3 rounds x 8 s: a few minutes)
#   make bench-micro   only the per-span microbenchmark (pytest-benchmark)
#   make bench-encoder instructions per span of the OTLP encoders (callgrind)
#   make bench-service instructions per request of one service at a time, per tracing
#                      configuration (callgrind; BENCH_SERVICE_ARGS='--services user
#                      --configs off,ratio-100pct'), a minute or two per pair
#   make bench-exact   instructions per request of every configuration, the services
#                      under callgrind (valgrind), and the attribution (~15-25 minutes);
#                      BENCH_EXACT_ARGS='--against results/bench-exact/<run>/exact.json'
#                      compares with an earlier run
#   make test-bench    the benchmark's tests: unit tests, a smoke run against a
#                      real local stack, the microbenchmark code once
#                      (--benchmark-disable); `make test` should run these too.
#
# Extra options for the benchmark: BENCH_ARGS='--rounds 10 --env OTEL_EXPORTER_OTLP_PROTOCOL=grpc'

PY ?= .venv/bin/python
VENV ?= .venv
PYTEST ?= $(VENV)/bin/pytest
LOCUST := $(VENV)/bin/locust

LOAD_PROFILE ?= steady
LOAD_USERS ?=
LOAD_SPAWN_RATE ?=
LOAD_TIME ?=
LOAD_OUT ?= loadtest/output
LOAD_UI_PORT ?= 8089
LOAD_STACK_ENV ?= loadtest/profiles/stack.env
BENCH_ARGS ?=
BENCH_EXACT_ARGS ?=
BENCH_SERVICE_ARGS ?=
BENCH_TEST_DIRS := tests/bench tests/microbench
BENCH_TEST_FLAGS := --benchmark-disable

LOAD_OVERRIDES = $(if $(LOAD_USERS),--users $(LOAD_USERS)) \
	$(if $(LOAD_SPAWN_RATE),--spawn-rate $(LOAD_SPAWN_RATE)) \
	$(if $(LOAD_TIME),--run-time $(LOAD_TIME))

.PHONY: load load-ui bench bench-quick bench-micro bench-encoder bench-exact bench-service \
	bench-console test-bench

load: venv tools ## Locust, headless (LOAD_PROFILE, LOAD_USERS, LOAD_SPAWN_RATE, LOAD_TIME).
	@mkdir -p $(LOAD_OUT)
	@url=$$($(PY) -m tracelab.bench.stackenv $(LOAD_STACK_ENV)); \
	echo "load profile $(LOAD_PROFILE) against $$url (report in $(LOAD_OUT))"; \
	$(LOCUST) --config loadtest/profiles/$(LOAD_PROFILE).conf --host $$url $(LOAD_OVERRIDES) \
		--csv $(LOAD_OUT)/$(LOAD_PROFILE) --html $(LOAD_OUT)/$(LOAD_PROFILE).html

load-ui: venv tools ## Locust web UI on http://127.0.0.1:8089 against the local stack.
	@url=$$($(PY) -m tracelab.bench.stackenv $(LOAD_STACK_ENV)); \
	echo "Locust UI: http://127.0.0.1:$(LOAD_UI_PORT) (target $$url; Ctrl-C stops it)"; \
	$(LOCUST) -f loadtest/locustfile.py --host $$url \
		--web-host 127.0.0.1 --web-port $(LOAD_UI_PORT)

bench-micro: venv ## Per-span cost microbenchmark (µs per span), pytest-benchmark.
	$(PYTEST) tests/microbench --benchmark-enable --benchmark-only \
		--benchmark-columns=min,median,mean,stddev,rounds --benchmark-sort=name -q

bench-encoder: venv ## Instructions per span and log record of encode + export, direct vs stock (callgrind, ~15 min).
	$(PY) -m tests.microbench.encoder_instructions

bench: venv tools bench-micro ## Microbenchmark + full tracing-overhead benchmark (~25 min).
	$(PY) -m tracelab.bench $(BENCH_ARGS)

bench-quick: venv tools ## Short tracing-overhead benchmark (a few minutes).
	$(PY) -m tracelab.bench --quick $(BENCH_ARGS)

bench-exact: venv tools ## Exact overhead: instructions per request under callgrind + attribution.
	@command -v valgrind >/dev/null || { echo "valgrind is missing: apt-get install valgrind"; exit 1; }
	$(PY) -m tracelab.bench.exact $(BENCH_EXACT_ARGS)

bench-service: venv ## Instructions per request of each service alone, per configuration (callgrind).
	@command -v valgrind >/dev/null || { echo "valgrind is missing: apt-get install valgrind"; exit 1; }
	$(PY) tests/microbench/request_cost.py $(BENCH_SERVICE_ARGS)

bench-console: venv tools console-assets browser ## Console speed: search over 1,000 traces, a 2,000-span trace drawn.
	$(PY) -m tracelab.bench.console $(BENCH_ARGS)

test-bench: venv tools ## Benchmark unit tests, smoke run on a real stack, microbench once.
	$(PYTEST) $(BENCH_TEST_DIRS) $(BENCH_TEST_FLAGS)
