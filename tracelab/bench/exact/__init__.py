"""Exact tracing overhead: ``make bench-exact`` / ``tracelab bench-exact`` (docs/benchmark.md).

The time benchmark (:mod:`tracelab.bench`) measures CPU seconds, which on
this shared virtual machine move by ~14% from round to round. Instructions
counted by ``valgrind --tool=callgrind`` do not depend on what else the
machine does, so here the five services run under callgrind (PostgreSQL,
the collector and Jaeger natively, on the private stack of the time
benchmark's runner: own run directory, free ports, no console) while a
fixed, seeded sequence of the time benchmark's journeys (same mix) is sent
through the real frontend **one request at a time**, so thread scheduling
cannot change what runs. The figure is instructions per request per
service and in total, and its ratio against tracing off.

Every knob, and why it is there (:data:`runner.EXACT_ENV` and the runner):

- ``--instr-atstart=no``, then ``callgrind_control --instr=on`` after the
  warm-up and ``--dump=wN`` at the end of each window (a dump zeroes the
  counters): start-up, imports, logins and warm-up are not counted, and run
  ~5x instead of ~50x slower. ``callgrind_control`` goes through valgrind's
  gdbserver, which reaches a process asleep in a system call.
- Only the processes that serve requests are counted (a gunicorn master's
  worker, the aiohttp process): the master only watches its worker, on a timer.
- ``PYTHONHASHSEED=0``: string hashes, so dict and set layouts, are the same
  in every start.
- The sampling decision comes from the plan (:mod:`plan`): each request
  carries a ``traceparent`` whose sampled flag is set for exactly every
  ``1/p``-th request, and the parent-based samplers follow it. With the
  SDK's own ratio sampler the random trace ids would pick a different
  number of traces each run (0, 1 or 2 of 100 at 1%).
- ``OTEL_BSP_SCHEDULE_DELAY`` (and the log processor's) one hour: the batch
  processor exports only when a batch is full (never, in a 50-request
  window) or when told; a timer would export a number of times that depends
  on wall time, which callgrind stretches. At the end of every window (and
  of the warm-up) the runner sends ``SIGUSR2``; the services flush their
  exporters on it (``TRACELAB_FLUSH_SIGNAL``) and log that they did, and the
  dump waits for that line. So every span made in the window is encoded and
  POSTed inside it, and none of the warm-up's is.
- The metric readers' intervals (``OTEL_METRIC_EXPORT_INTERVAL``, the loss
  log's) one hour: they would otherwise run on a timer inside the window.
- Request budgets and timeouts raised: a request is 20-50x slower under
  callgrind and must not be shed or time out.
- No health probes in a window: the stack runner probes only while starting.
  What is left that runs on a timer (gunicorn's worker loop wakes every
  second) costs far under 0.1% of a window.

Each configuration runs ``--windows`` windows of the same requests in one
start of the services; the spread of their ratios is the repeat spread
within a run, and ``--against`` an earlier ``exact.json`` shows the
difference between two runs (two starts, two machines' states).

Attribution. Python 3.11 has no perf trampolines, so callgrind sees only C
functions: a Python-level cost (a span processor, an instrumentation's hook)
is spread over the interpreter's eval loop, dict lookups and allocators.
So the overhead is split two ways:

(a) by ablation, exact because the counts are: the same requests with one
    component taken away, the difference in instructions being its cost
    (:data:`analysis.COMPONENTS`): the exporter's HTTP (encode but do not
    send), the encoder (hand batches to an exporter that drops them), the
    batch processor and its thread (no span processor at all), then, with
    no span processor so export is counted once, each instrumentation
    library (``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS``) and propagation
    (``OTEL_PROPAGATORS=none``); the residual is the SDK's own span work,
    context and sampler, and the manual spans;
(b) by C function (the dump's self costs, :data:`analysis.CATEGORIES`):
    protobuf/upb, json, zlib, sockets and system calls, locks and the GIL,
    the eval loop, allocators, the garbage collector: what no switch can
    take away.

Modules: :mod:`callgrind` (wrapper, control, dump parser), :mod:`plan`,
:mod:`runner`, :mod:`analysis`, :mod:`report`, :mod:`configs` (the
ablations; the shared configurations are :mod:`tracelab.bench.configs`'s),
:mod:`cli`.
"""
