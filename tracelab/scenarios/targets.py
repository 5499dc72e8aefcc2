"""Where the running lab answers: service URLs, Jaeger, logs, the admin token."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from services.common.admin import admin_token
from tracelab.stack.config import SERVICES
from tracelab.stack.errors import StackError
from tracelab.stack.runner import Stack


@dataclass(frozen=True)
class Targets:
    """The URLs a scenario check talks to (all on 127.0.0.1 for the local stack)."""

    frontend: str
    jaeger: str
    services: Mapping[str, str]
    token: str | None = field(default_factory=admin_token, repr=False)
    span_metrics: str | None = None
    log_dir: Path | None = None

    @classmethod
    def from_stack(cls, root: Path | None = None) -> Targets:
        """The targets of the local stack recorded in the run directory."""
        info = Stack(root).info()
        if info is None:
            raise StackError("no local stack is recorded: start one with `tracelab up`")
        return cls.from_urls(info.urls, log_dir=info.log_dir, token=info.admin_token)

    @classmethod
    def from_urls(
        cls, urls: Mapping[str, str], log_dir: Path | None = None, token: str | None = None
    ) -> Targets:
        """Targets from a ``StackInfo.urls``-like mapping (``token``: else the environment's)."""
        return cls(
            frontend=urls["frontend"],
            jaeger=urls["jaeger"],
            services={name: urls[name] for name in SERVICES if name in urls},
            span_metrics=urls.get("span_metrics"),
            log_dir=log_dir,
            token=token or admin_token(),
        )
