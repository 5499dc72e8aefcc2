"""The request paths that make no spans, as the instrumentations' exclusion regexes.

The OpenTelemetry instrumentations *search* their exclusion regexes in what
they are given: the Flask one in the whole URL, query string included, the
aiohttp one in the path. A bare ``/healthz`` would then exclude
``/api/dashboard?x=/healthz`` too (no server span, no ``traceresponse``).
Every pattern here is a regex of the *path*, anchored at its start, and
:func:`for_urls` / :func:`for_paths` anchor it for each instrumentation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from services.common.admin import ADMIN_PREFIX
from services.common.health import HEALTH_PATHS

# Scheme and authority of a full URL: what precedes its path.
_URL_START = r"^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*"


def exact(path: str) -> str:
    """A path pattern for ``path`` itself (any query string)."""
    return re.escape(path) + r"(?:[?#]|$)"


def prefix(path: str) -> str:
    """A path pattern for every path starting with ``path``."""
    return re.escape(path)


# Health probes run every few seconds and admin calls are the lab's own
# plumbing: neither belongs in the traces under study.
UNTRACED: tuple[str, ...] = (*(exact(p) for p in HEALTH_PATHS), prefix(ADMIN_PREFIX))


def for_urls(path_patterns: Iterable[str]) -> str:
    """``excluded_urls`` for an instrumentation that searches full URLs (Flask)."""
    return ",".join(_URL_START + pattern for pattern in path_patterns)


def for_paths(path_patterns: Iterable[str]) -> str:
    """``excluded_urls`` for an instrumentation that searches paths (aiohttp server)."""
    return ",".join("^" + pattern for pattern in path_patterns)
