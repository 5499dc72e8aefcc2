"""callgrind under the services: the wrapper command line, the control commands, the dumps.

The services start with instrumentation off (``--instr-atstart=no``): they
run about five times slower than natively instead of fifty while they import,
start and warm up, and nothing of that is counted. ``callgrind_control``
switches instrumentation on and dumps the counters through valgrind's
gdbserver (``vgdb``), which reaches a process even while it sleeps in a
system call. A dump zeroes the counters, so each window is one dump file.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

VALGRIND = "valgrind"
CONTROL = "callgrind_control"


def tools_missing() -> list[str]:
    """The valgrind programs that are not on PATH."""
    return [tool for tool in (VALGRIND, CONTROL) if shutil.which(tool) is None]


def wrapper_argv(out_dir: Path, service: str, argv: list[str]) -> list[str]:
    """``argv`` (a service's command line) run under callgrind, counting nothing until told.

    ``--trace-children=yes`` follows an ``exec`` (``opentelemetry-instrument``
    re-executes Python); a gunicorn worker, forked, is followed anyway. Each
    process writes ``<out_dir>/<service>.<pid>[.<part>]``.
    """
    return [
        VALGRIND,
        "--tool=callgrind",
        "--instr-atstart=no",
        "--trace-children=yes",
        "--vgdb=yes",
        "--dump-instr=no",
        "--dump-line=no",
        "--compress-strings=no",
        "--compress-pos=no",
        f"--callgrind-out-file={out_dir / service}.%p",
        *argv,
    ]


def control(pid: int, *args: str, timeout: float = 120.0) -> None:
    """``callgrind_control ARGS PID``; the pid is required: without one the tool acts on
    EVERY callgrind process of the machine."""
    if pid <= 0:
        raise ValueError("callgrind_control needs a pid")
    result = subprocess.run(
        [CONTROL, *args, str(pid)], capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0 or "OK" not in result.stdout + result.stderr:
        raise RuntimeError(
            f"{CONTROL} {' '.join(args)} {pid} failed: {result.stdout}{result.stderr}"
        )


@dataclass
class Dump:
    """One dump file: its trigger, total instructions and self cost per (object, function)."""

    path: Path
    pid: int
    trigger: str
    total: int
    functions: dict[tuple[str, str], int] = field(default_factory=dict)


_COST = re.compile(r"^[+\-*]?\d")


def parse_dump(path: Path, *, functions: bool = True) -> Dump:
    """Read a callgrind dump (uncompressed names and positions, one event: Ir).

    Self cost of a function = its cost lines, not counting the line after a
    ``calls=`` line (that one is the inclusive cost of the call).
    """
    pid, trigger, total = 0, "", 0
    self_cost: dict[tuple[str, str], int] = defaultdict(int)
    obj = fn = ""
    after_calls = False
    with path.open(errors="replace") as handle:
        for line in handle:
            if _COST.match(line):
                if after_calls:
                    after_calls = False
                elif functions:
                    parts = line.split()
                    if len(parts) >= 2:
                        self_cost[(obj, fn)] += int(parts[-1])
                continue
            key, _, value = line.partition("=")
            if key == "fn":
                fn = value.strip()
            elif key == "ob":
                obj = value.strip()
            elif key == "calls":
                after_calls = True
            elif line.startswith("pid:"):
                pid = int(line.split(":", 1)[1])
            elif line.startswith("desc: Trigger:"):
                trigger = line.split(":", 2)[2].strip()
            elif line.startswith(("summary:", "totals:")):
                total = max(total, int(line.split(":", 1)[1].split()[0]))
            elif not functions and line.startswith("fn="):
                pass
    return Dump(path, pid, trigger, total, dict(self_cost))


def find_dumps(out_dir: Path, service: str, pid: int) -> list[Path]:
    """The dump files of ``service``'s process ``pid``, in part order."""
    found = list(out_dir.glob(f"{service}.{pid}.*"))
    return sorted(found, key=lambda p: int(p.suffix.lstrip(".") or 0))


def dump_named(out_dir: Path, service: str, pid: int, label: str) -> Dump:
    """The dump of ``pid`` triggered by ``--dump=<label>``."""
    for path in find_dumps(out_dir, service, pid):
        dump = parse_dump(path)
        if dump.trigger == f"dump {label}" or dump.trigger.endswith(label):
            return dump
    raise FileNotFoundError(f"no callgrind dump {label!r} of {service} (pid {pid}) in {out_dir}")


def merge_functions(dumps: Iterable[Dump]) -> dict[tuple[str, str], int]:
    """Self cost per (object, function) summed over ``dumps``."""
    merged: dict[tuple[str, str], int] = defaultdict(int)
    for dump in dumps:
        for key, cost in dump.functions.items():
            merged[key] += cost
    return dict(merged)
