"""The tracing-overhead benchmark: ``tracelab bench`` (docs/benchmark.md).

One run starts a private local stack (its own run directory and free
ports), probes the untraced capacity, then drives a FIXED open-loop request
rate through the frontend in several tracing configurations, interleaved
round by round, and reports the overhead of each configuration against
tracing-off as a paired mean with a 95% confidence interval.

Modules, in the order a run uses them:

- :mod:`~tracelab.bench.configs`: the tracing configurations (environment overlays);
- :mod:`~tracelab.bench.workload`: the journey mix, seed accounts and request plans;
- :mod:`~tracelab.bench.loadgen`: the open/closed-loop load generator (a subprocess);
- :mod:`~tracelab.bench.driver`: runs the generator and samples the stack at its markers;
- :mod:`~tracelab.bench.procs`, :mod:`~tracelab.bench.promtext`,
  :mod:`~tracelab.bench.logscan`: CPU/RSS, collector span counters, SDK drop lines;
- :mod:`~tracelab.bench.metrics`, :mod:`~tracelab.bench.stats`,
  :mod:`~tracelab.bench.analysis`: per-round figures, paired statistics, targets;
- :mod:`~tracelab.bench.report`, :mod:`~tracelab.bench.plots`: JSON, Markdown, PNG;
- :mod:`~tracelab.bench.runner`, :mod:`~tracelab.bench.cli`: the whole run, the command;
- :mod:`~tracelab.bench.stackenv`: the recorded pids of a stack, ``make load``'s stack;
- :mod:`~tracelab.bench.reload`: a finished run read back, re-judged and re-rendered.
"""
