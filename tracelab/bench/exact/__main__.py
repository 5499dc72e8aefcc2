"""``python -m tracelab.bench.exact``: the same as ``tracelab bench-exact``."""

from tracelab.bench.exact.cli import bench_exact

bench_exact()
