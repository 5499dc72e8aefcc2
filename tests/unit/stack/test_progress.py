"""The shared progress reporter: phase counts, elapsed time, what is left, heartbeat."""

from __future__ import annotations

import threading

import pytest

from tracelab.progress import Progress, format_duration


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_durations_read_at_a_glance() -> None:
    assert format_duration(4.4) == "4 s"
    assert format_duration(185) == "3 min 05 s"
    assert format_duration(3720) == "1 h 02 min"


def test_lines_give_phase_elapsed_and_left_scaled_by_measured_pace() -> None:
    clock, lines = FakeClock(), []
    progress = Progress("bench", [10, 10, 20], echo=lines.append, clock=clock)
    progress.start("round 1")
    assert lines[-1] == "[bench 1/3, 0 s elapsed, about 40 s left] round 1"
    clock.now += 20  # twice as slow as the weights said
    progress.done("12 req/s")
    assert lines[-1] == "[bench 1/3 done, 20 s elapsed, about 1 min 00 s left] round 1: 12 req/s"
    progress.start("round 2")
    assert lines[-1].startswith("[bench 2/3, 20 s elapsed, about 1 min 00 s left]")


def test_a_long_phase_counts_down_and_never_below_the_phases_after_it() -> None:
    clock, lines = FakeClock(), []
    progress = Progress("tools", [50, 300], echo=lines.append, clock=clock)
    progress.start("download")
    clock.now += 30
    assert progress.line("download").startswith("[tools 1/2, 30 s elapsed, about 5 min 20 s left]")
    clock.now += 60  # past the estimate of this phase: only what comes after is left
    assert "about 5 min 00 s left" in progress.line("download")
    progress.done()
    clock.now += 100
    # Pace 90 s for 50: 300 weighs 540 s, 100 s of it has run.
    assert "about 7 min 20 s left" in progress.line("build")


def test_more_phases_than_declared_is_an_error() -> None:
    progress = Progress("x", [1], echo=lambda _: None, clock=FakeClock())
    with progress.phase("only"):
        pass
    with pytest.raises(RuntimeError, match="more phases ended"):
        progress.done()


def test_no_weights_is_refused() -> None:
    with pytest.raises(ValueError):
        Progress("x", [])


def test_heartbeat_repeats_the_line_during_a_silent_phase() -> None:
    lines: list[str] = []
    seen = threading.Event()

    def echo(line: str) -> None:
        lines.append(line)
        if "still running" in line:
            seen.set()

    progress = Progress("tools", [60], echo=echo)
    with progress.phase("go build otelcol", every_s=0.01):
        assert seen.wait(5)
    assert any(line.endswith("go build otelcol (still running)") for line in lines)
    assert lines[-1].startswith("[tools 1/1 done")
