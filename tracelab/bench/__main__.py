"""``python -m tracelab.bench``: the same as ``tracelab bench``."""

from tracelab.bench.cli import bench

if __name__ == "__main__":
    bench(prog_name="tracelab bench")
