"""The local tracelab stack: tool builds, process runner, state and CLI.

Python API (used by the e2e tests)::

    from tracelab.stack import Stack

    stack = Stack(root, env={"TRACELAB_FRONTEND_PORT": "18080"})
    stack.is_ready()                    # a healthy stack already up in this run dir?
    info = stack.up(timeout=90, extra_env={"SOME_FAULT": "1"})
    info.urls["frontend"], info.urls["jaeger"], info.dsn, info.ports
    stack.status()                      # [ComponentStatus(name, pid, alive, ready, url, log)]
    stack.down()
"""

from __future__ import annotations

from tracelab.stack.errors import (
    ComponentFailedError,
    MissingBinaryError,
    PortInUseError,
    ReadinessTimeoutError,
    StackError,
)
from tracelab.stack.runner import ComponentStatus, Stack, StackInfo

__all__ = [
    "ComponentFailedError",
    "ComponentStatus",
    "MissingBinaryError",
    "PortInUseError",
    "ReadinessTimeoutError",
    "Stack",
    "StackError",
    "StackInfo",
]
