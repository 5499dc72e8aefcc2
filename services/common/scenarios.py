"""The workshop scenarios, each declared once: the one list every other place reads.

One :class:`Scenario` object per fault holds everything about it that is
data: its name, the services that own it (and run its fault code), its
parameters with their bounds, a one-line description, its signature (the
trace detector that proves it, and how the parameters set the detector's
thresholds), how ``tracelab scenario check`` drives and judges it, where
its golden shape and workshop page are, and its answer key (what a
learner's diagnosis may name). The fault code asks for it by object
(``faults.active(scenarios.SLOW_QUERY)``): a typo is a NameError, never a
silently-off switch; a *name* (admin API, CLI, console,
``TRACELAB_SCENARIOS``) is looked up with :meth:`Catalogue.get`, which
refuses an unknown one.

Why here, in ``services/common``: the services must not import ``tracelab``
(they hold demo code only), and the lab tooling must read the same objects
the services switch. So the declaration is plain data in the one package
both may import, including the parts only the lab uses (detector names,
shape and page paths, answer keys): they are strings and numbers, no lab
code. What is code on the lab side, the few predicates that pick the
scenario's finding among a detector's findings, lives in
:mod:`tracelab.scenarios.signatures`, keyed by these same objects and
optional (without one, any finding of the detector is the scenario's), so
the lab's view is complete by construction: it is built by iterating
:data:`CATALOGUE`.

API (lab code uses :mod:`tracelab.scenarios.catalogue`, which wraps these
objects with absolute paths and a judging signature)::

    from services.common.scenarios import CATALOGUE, SLOW_QUERY
    CATALOGUE.get("slow-query") is SLOW_QUERY     # UnknownScenario for any other name
    CATALOGUE.all()                               # every Scenario, in declaration order
    CATALOGUE.names()                             # their names
    SLOW_QUERY.owner_services                     # ("db",)
    SLOW_QUERY.params({"scan_ms": 500})           # defaults + checked overrides
    SLOW_QUERY.signature.detector                 # "dominating-span"
    SLOW_QUERY.shape_path, SLOW_QUERY.page_path   # repo-relative paths
    SLOW_QUERY.answer.accepts_operation("SELECT") # True; .services, .operations, .cause

Adding a scenario: declare it below and add it to :data:`CATALOGUE`, write
its fault code in the owning service, its golden shape and its workshop
page; the tests say what is missing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

Params = dict[str, Any]

# Scenarios switched on at a service's start-up (comma separated names).
SCENARIOS_ENV = "TRACELAB_SCENARIOS"
SHAPES_DIR = "tests/shapes/scenarios"
PAGES_DIR = "docs/workshop"
_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


class UnknownScenario(KeyError, ValueError):
    """No scenario has this name (a KeyError for lookups, a ValueError for input checks)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown scenario"


@dataclass(frozen=True)
class Param:
    """One tunable parameter: its default and the bounds every value must stay in.

    An integer default makes an integer parameter (whole numbers only).
    """

    default: int | float
    minimum: int | float
    maximum: int | float

    def value(self, scenario: str, key: str, raw: Any) -> int | float:
        """``raw`` checked against the bounds and typed like the default (else ValueError)."""
        what = f"{scenario}: parameter {key!r}"
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
            raise ValueError(f"{what} must be a number")
        if isinstance(self.default, int) and raw != int(raw):
            raise ValueError(f"{what} must be a whole number")
        if not self.minimum <= raw <= self.maximum:
            raise ValueError(f"{what} must be between {self.minimum} and {self.maximum}")
        return type(self.default)(raw)


@dataclass(frozen=True)
class Scaled:
    """A detector threshold set by a parameter: ``max(floor, params[param] * factor)``.

    The effect a scenario injects has the size its parameter says; a share
    of it (half, by default) is already the effect, not noise.
    """

    param: str
    factor: float = 0.5
    floor: float = 1.0

    def of(self, params: Mapping[str, Any], default: float) -> float:
        """The threshold for ``params`` (``default``: the parameter's default)."""
        return max(self.floor, float(params.get(self.param, default)) * self.factor)


@dataclass(frozen=True)
class Signature:
    """The finding that proves the scenario: a detector of ``tracelab.analysis.findings``.

    ``what`` completes "no <detector> finding ..." in a failed check's
    message. ``thresholds`` maps detector thresholds to :class:`Scaled`
    parameters.
    """

    detector: str
    what: str
    thresholds: Mapping[str, Scaled] = field(default_factory=dict)


@dataclass(frozen=True)
class Check:
    """The traffic ``tracelab scenario check`` drives and how its traces are judged.

    ``mode`` is ``all`` (every sampled trace must show the signature while the
    scenario is on) or ``any`` (at least one: faults that need contention or
    chance). ``only_status`` restricts the judged traces to answers with that
    status while on (flaky-auth: the calls that failed). ``discriminating``
    says whether the scenario shape itself can tell on from off (else the
    measure alone does).
    """

    journey: str
    on_status: int = 200
    samples: int = 1
    concurrency: int = 1
    warmup: int = 0
    mode: str = "all"
    only_status: int | None = None
    discriminating: bool = True
    params: Mapping[str, Any] = field(default_factory=dict)
    min_spans: int = 1


def normalise_name(raw: str) -> str:
    """A service name or cause id as compared: lower case, blanks and ``_`` as ``-``."""
    return re.sub(r"[\s_]+", "-", raw.strip().lower())


def normalise_operation(raw: str) -> str:
    """A span name as compared: lower case, single spaces, route placeholders as ``{}``.

    Flask's ``<int:user_id>`` and aiohttp's ``{id}`` name the same route.
    """
    text = re.sub(r"\s+", " ", raw.strip().lower())
    return re.sub(r"<[^>/]*>|\{[^}/]*\}", "{}", text)


# How a fix changes the finding's spans (see :class:`Answer`).
FIX_KINDS = ("drop", "own", "keep-one", "none")


@dataclass(frozen=True)
class Answer:
    """A scenario's answer key: the sets of acceptable answers, never prose.

    ``services``: the service at fault (any of them is right; default: the
    owners). ``operations``: span names where the fault shows (the SQL span
    or the db handler that runs it...), compared with
    :func:`normalise_operation`. ``cause``: the cause's id, which is the
    scenario's name (the cause catalogue *is* the scenario catalogue).
    ``fix``: how the fix changes the finding's spans, for the what-if
    projection (:mod:`tracelab.workshop.whatif`): ``drop``: they leave the
    critical path with what they called; ``own``: only their own time goes
    (the wait, not the work); ``keep-one``: the longest of them stays (one
    call instead of N, calls now concurrent); ``none``: nothing goes (the fix
    changes errors or context, not latency).
    """

    operations: frozenset[str]
    services: frozenset[str] = frozenset()
    fix: str = "drop"
    cause: str = ""

    def accepts_service(self, raw: str) -> bool:
        """Is ``raw`` one of the acceptable services?"""
        return normalise_name(raw) in {normalise_name(s) for s in self.services}

    def accepts_operation(self, raw: str) -> bool:
        """Is ``raw`` one of the acceptable span names?"""
        return normalise_operation(raw) in {normalise_operation(o) for o in self.operations}

    def accepts_cause(self, raw: str) -> bool:
        """Is ``raw`` the cause's id?"""
        return normalise_name(raw) == self.cause


@dataclass(frozen=True, eq=False)
class Scenario:
    """One injectable fault, declared once (see the module docstring).

    Compared and hashed by identity: the lab keys its code by these objects.
    """

    name: str
    owner_services: tuple[str, ...]
    summary: str
    parameters: Mapping[str, Param]
    signature: Signature
    check: Check
    answer: Answer

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"scenario name {self.name!r} is not lower-case-with-dashes")
        if not self.owner_services:
            raise ValueError(f"{self.name}: no owning service")
        for threshold, scaled in self.signature.thresholds.items():
            if scaled.param not in self.parameters:
                raise ValueError(f"{self.name}: {threshold} scales unknown {scaled.param}")
        self.params(self.check.params)  # the check's parameters are in bounds
        if self.answer.fix not in FIX_KINDS:
            raise ValueError(f"{self.name}: fix {self.answer.fix!r} is not one of {FIX_KINDS}")
        services = self.answer.services or frozenset(self.owner_services)
        object.__setattr__(self, "answer", replace(self.answer, services=services, cause=self.name))

    @property
    def services(self) -> tuple[str, ...]:
        """The owning services (the name older callers use)."""
        return self.owner_services

    @property
    def shape_path(self) -> str:
        """The golden signature shape, relative to the repository root."""
        return f"{SHAPES_DIR}/{self.name}.yaml"

    @property
    def page_path(self) -> str:
        """The workshop page, relative to the repository root."""
        return f"{PAGES_DIR}/{self.name}.md"

    @property
    def defaults(self) -> Params:
        """Every parameter's default."""
        return {key: param.default for key, param in self.parameters.items()}

    def limits(self) -> dict[str, dict[str, int | float]]:
        """Every parameter's bounds, ``{"name": {"min": ..., "max": ...}}``."""
        return {
            key: {"min": param.minimum, "max": param.maximum}
            for key, param in self.parameters.items()
        }

    def params(self, overrides: Mapping[str, Any] | None = None) -> Params:
        """The defaults with ``overrides`` applied; unknown or out-of-bounds values raise."""
        merged = self.defaults
        for key, value in (overrides or {}).items():
            if key not in self.parameters:
                known = ", ".join(sorted(self.parameters)) or "none"
                raise ValueError(f"{self.name}: unknown parameter {key!r} (known: {known})")
            merged[key] = self.parameters[key].value(self.name, key, value)
        return merged

    def thresholds(self, params: Mapping[str, Any]) -> dict[str, float]:
        """The signature detector's thresholds for ``params``."""
        return {
            name: scaled.of(params, self.parameters[scaled.param].default)
            for name, scaled in self.signature.thresholds.items()
        }


def _ops(*names: str) -> frozenset[str]:
    return frozenset(names)


SLOW_QUERY = Scenario(
    "slow-query",
    ("db",),
    "the activity query defeats its index (a cast on user_id) and scans",
    {"scan_ms": Param(300, 0, 5000), "share": Param(1.0, 0.0, 1.0)},
    # The scan adds scan_ms to one query: half of it is already most of the trace.
    Signature("dominating-span", "on a SQL query", {"dominating_min_ms": Scaled("scan_ms")}),
    Check("dashboard", min_spans=17),
    Answer(_ops("SELECT", "GET /users/{id}/activity")),
)
N_PLUS_ONE = Scenario(
    "n-plus-one",
    ("user",),
    "user fetches the activity ids, then each entry with its own db call",
    {},
    Signature("n-plus-one", "(one call per item)"),
    Check("dashboard", min_spans=20),
    Answer(_ops("GET /users/{id}/activity", "GET /activity/{id}", "GET"), fix="keep-one"),
)
SEQUENTIAL_FANOUT = Scenario(
    "sequential-fanout",
    ("gateway",),
    "the dashboard awaits the profile, then the activity, one after the other",
    {},
    Signature("sequential-fanout", "(calls one after another)"),
    Check("dashboard", discriminating=False, min_spans=17),
    Answer(_ops("gateway.dashboard_fanout", "GET /api/dashboard"), fix="keep-one"),
)
POOL_STARVATION = Scenario(
    "pool-starvation",
    ("db",),
    "db serves one request at a time (a pool of one), holding it while post-processing",
    {"pool_size": Param(1, 1, 10), "hold_ms": Param(50, 0, 2000)},
    # Queued behind one holder: at least half a hold.
    Signature("pool-wait", "on the starved pool", {"pool_wait_ms": Scaled("hold_ms")}),
    Check("dashboard", samples=24, concurrency=8, warmup=32, mode="any", min_spans=17),
    Answer(_ops("db.pool.wait", "GET /users/{id}/activity", "GET /users/{id}")),
)
FLAKY_AUTH = Scenario(
    "flaky-auth",
    ("auth",),
    "a share of token verifications fail inside auth (its session store times out)",
    {"rate": Param(0.5, 0.0, 1.0)},
    Signature("error-origin", "beginning in auth's injected fault"),
    Check("profile", on_status=503, samples=12, mode="any", only_status=503, min_spans=6),
    Answer(_ops("auth.token_verify", "POST /verify"), fix="none"),
)
RETRY_STORM = Scenario(
    "retry-storm",
    ("db", "user"),
    "db answers activity slowly; user retries it with a short per-attempt timeout",
    {
        "delay_ms": Param(400, 0, 5000),
        "attempt_timeout_ms": Param(120, 10, 5000),
        "attempts": Param(3, 1, 10),
    },
    Signature("retries", "(the same call again)"),
    Check("dashboard", on_status=504, min_spans=23),
    Answer(_ops("GET /users/{id}/activity", "GET"), fix="keep-one"),
)
LOST_CONTEXT = Scenario(
    "lost-context",
    ("user",),
    "user hands the activity fetch to a thread pool without the trace context",
    {},
    Signature("broken-trace", "continuing in a trace of its own"),
    Check("dashboard", min_spans=14),
    Answer(_ops("GET /users/{id}/activity"), fix="none"),
)
BLOCKING_LOOP = Scenario(
    "blocking-loop",
    ("user",),
    "user's profile handler makes a blocking call on the event loop",
    {"block_ms": Param(300, 0, 2000)},
    # The handler blocks for block_ms: a wait of half of it is the block, not noise.
    Signature(
        "blocked-wait", "on a call into or out of user", {"blocked_slack_ms": Scaled("block_ms")}
    ),
    Check("dashboard", discriminating=False, min_spans=17),
    Answer(_ops("GET /users/{id}"), fix="own"),
)
SLOW_EXTERNAL = Scenario(
    "slow-external",
    ("user",),
    "user's profile waits on a slow external avatar API, called with no timeout",
    {"delay_ms": Param(800, 0, 5000)},
    # The partner answers after delay_ms: half of it is already the wait, not noise.
    Signature(
        "dominating-span",
        "on a call to an uninstrumented (external) service",
        {"dominating_min_ms": Scaled("delay_ms")},
    ),
    Check("dashboard", min_spans=18),
    Answer(_ops("GET", "GET /users/{id}")),
)


class Catalogue:
    """The declared scenarios: look one up by name, list them all.

    ``scenarios`` is read on every call, so a test that declares one more
    (``monkeypatch.setattr(CATALOGUE, "scenarios", (*CATALOGUE.scenarios, fake))``)
    sees it in every place that lists scenarios.
    """

    def __init__(self, scenarios: tuple[Scenario, ...]) -> None:
        self.scenarios = scenarios
        self._index: tuple[tuple[Scenario, ...], dict[str, Scenario]] = ((), {})

    def _by_name(self) -> dict[str, Scenario]:
        declared, index = self._index
        if declared is not self.scenarios:
            index = {}
            for scenario in self.scenarios:
                if scenario.name in index:
                    raise ValueError(f"scenario {scenario.name!r} is declared twice")
                index[scenario.name] = scenario
            self._index = (self.scenarios, index)
        return index

    def all(self) -> tuple[Scenario, ...]:
        """Every scenario, in declaration order."""
        return tuple(self._by_name().values())

    def names(self) -> tuple[str, ...]:
        """Every scenario's name, in declaration order."""
        return tuple(self._by_name())

    def get(self, name: str) -> Scenario:
        """The scenario called ``name``; :class:`UnknownScenario` (with the known names) else."""
        try:
            return self._by_name()[name]
        except (KeyError, TypeError):
            known = ", ".join(self.names())
            raise UnknownScenario(f"unknown scenario {name!r}; known: {known}") from None

    def parse(self, raw: str, source: str) -> list[Scenario]:
        """The scenarios named in a comma-separated list (``source`` names it in errors)."""
        names = [part.strip() for part in raw.split(",") if part.strip()]
        unknown = [name for name in names if name not in self._by_name()]
        if unknown:
            raise UnknownScenario(
                f"{source} names unknown scenario(s) {', '.join(map(repr, unknown))}; "
                f"known: {', '.join(self.names())}"
            )
        return [self.get(name) for name in names]

    def owners(self) -> frozenset[str]:
        """The services that own a scenario, so serve the admin API (the frontend owns none)."""
        return frozenset(service for s in self.all() for service in s.owner_services)

    def __contains__(self, item: object) -> bool:
        if isinstance(item, Scenario):
            return any(item is s for s in self.scenarios)
        return isinstance(item, str) and item in self._by_name()

    def __iter__(self) -> Iterator[Scenario]:
        return iter(self.all())

    def __len__(self) -> int:
        return len(self._by_name())


CATALOGUE = Catalogue(
    (
        SLOW_QUERY,
        N_PLUS_ONE,
        SEQUENTIAL_FANOUT,
        POOL_STARVATION,
        FLAKY_AUTH,
        RETRY_STORM,
        LOST_CONTEXT,
        BLOCKING_LOOP,
        SLOW_EXTERNAL,
    )
)


class ByName(Mapping[str, Scenario]):
    """A live ``{name: Scenario}`` view of :data:`CATALOGUE` (``faults.SCENARIOS``)."""

    def __init__(self, catalogue: Catalogue) -> None:
        self._catalogue = catalogue

    def __getitem__(self, name: str) -> Scenario:
        return self._catalogue.get(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._catalogue.names())

    def __len__(self) -> int:
        return len(self._catalogue)
