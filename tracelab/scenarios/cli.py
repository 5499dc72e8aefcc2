"""``tracelab scenario list|on|off|check``: the workshop leader's switchboard."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from tracelab.scenarios import catalogue
from tracelab.scenarios.admin import AdminError, ScenarioAdmin
from tracelab.scenarios.targets import Targets
from tracelab.stack.errors import StackError

T = TypeVar("T")


class ScenarioName(click.ParamType):
    """A declared scenario's name (or ``all`` where allowed), looked up when parsed."""

    name = "scenario"

    def __init__(self, allow_all: bool = False) -> None:
        self.allow_all = allow_all

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        """``value`` when it names a scenario; a usage error (exit 2) naming the known ones else."""
        if self.allow_all and value == "all":
            return value
        try:
            return catalogue.get(value).name
        except catalogue.UnknownScenario as exc:
            self.fail(str(exc), param, ctx)

    def shell_complete(
        self, ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[click.shell_completion.CompletionItem]:
        """The declared names starting with ``incomplete``."""
        names = [*catalogue.names(), *(["all"] if self.allow_all else [])]
        return [click.shell_completion.CompletionItem(n) for n in names if n.startswith(incomplete)]


def _guard(action: Callable[[], T]) -> T:
    try:
        return action()
    except (AdminError, StackError) as exc:
        click.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(2)


def _admin() -> ScenarioAdmin:
    targets = _guard(Targets.from_stack)
    return ScenarioAdmin(targets.services, targets.token)


def _parse_params(pairs: tuple[str, ...]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep:
            raise click.BadParameter(f"{pair!r} is not KEY=NUMBER", param_hint="--param")
        try:
            params[key] = json.loads(raw)
        except json.JSONDecodeError:
            raise click.BadParameter(f"{raw!r} is not a number", param_hint="--param") from None
    return params


@click.group("scenario")
def scenario() -> None:
    """Workshop scenarios: switch faults on and off, check their trace signatures."""


@scenario.command("list")
def list_scenarios() -> None:
    """Every scenario, where it lives and whether it is on."""
    states = _guard(_admin().states)
    for spec in catalogue.all():
        state = states.get(spec.name, {})
        flag = "ON " if state.get("active") else "off"
        params = state.get("params") or {}
        shown = " ".join(f"{k}={v}" for k, v in params.items())
        owners = ",".join(spec.owner_services)
        click.echo(f"{flag} {spec.name:<18} [{owners}] {spec.summary} {shown}".rstrip())


@scenario.command("on")
@click.argument("name", type=ScenarioName())
@click.option("--param", "params", multiple=True, help="KEY=NUMBER, e.g. --param rate=0.2")
def switch_on(name: str, params: tuple[str, ...]) -> None:
    """Switch scenario NAME on (in the services that own it)."""
    parsed = _parse_params(params)
    services = _guard(lambda: _admin().switch(name, True, parsed))
    click.echo(f"{name}: ON in {', '.join(services)}")


@scenario.command("off")
@click.argument("name", type=ScenarioName(allow_all=True))
def switch_off(name: str) -> None:
    """Switch scenario NAME (or ``all``) off."""
    admin = _admin()
    if name == "all":
        was_on = _guard(admin.all_off)
        click.echo(f"all scenarios off (were on: {', '.join(was_on) or 'none'})")
        return
    services = _guard(lambda: admin.switch(name, False))
    click.echo(f"{name}: off in {', '.join(services)}")


@scenario.command("check")
@click.argument("names", nargs=-1, type=ScenarioName(allow_all=True))
@click.option(
    "--state",
    type=click.Choice(["both", "on", "off"]),
    default="both",
    show_default=True,
    help="Which states to check.",
)
@click.option("-v", "--verbose", is_flag=True, help="Print every judged trace.")
def check(names: tuple[str, ...], state: str, verbose: bool) -> None:
    """Drive traffic and assert each scenario's trace signature (on) and its absence (off).

    Exit status 0 when every check passes, 1 otherwise, 2 when the lab is not reachable.
    """
    from tracelab.scenarios.check import Checker

    chosen = list(catalogue.names()) if not names or "all" in names else list(names)
    states = ("on", "off") if state == "both" else (state,)
    checker = Checker(_guard(Targets.from_stack), echo=click.echo if verbose else None)
    failed = 0
    try:
        for name in chosen:
            for result in _guard(lambda n=name: checker.check(n, states)):
                failed += not result.passed
                text = result.summary()
                click.echo(text.splitlines()[0] if result.passed and not verbose else text)
    finally:
        checker.close()
    sys.exit(1 if failed else 0)
