"""Progress lines for the lab's long commands (tool builds, benchmarks, sampling compare).

One reporter, so every long command tells a person the same three things in
the same words: which phase it is in (``3/7``), how long it has run, and how
long is left. The estimate of what is left comes from the caller's own
weights for the phases (a benchmark round of 30 s weighs 30) scaled by the
pace measured so far; before the first phase ends it uses the weights as
seconds, which is what callers pass when they know them.

A ``heartbeat`` thread repeats the current line every ``every_s`` seconds
during a phase that gives no news of its own (a ``go build`` of minutes), so
a terminal is never silent for long.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

Echo = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def format_duration(seconds: float) -> str:
    """``42 s``, ``3 min 05 s`` or ``1 h 02 min``: what a person reads at a glance."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


@dataclass
class Progress:
    """Reports ``[label 3/7, 1 min 20 s elapsed, about 2 min left] phase`` lines.

    ``weights`` are the phases' expected costs (seconds, or any unit in
    proportion); their count is the number of phases. ``clock`` is
    injectable for tests.
    """

    label: str
    weights: Sequence[float]
    echo: Echo = _stderr
    clock: Callable[[], float] = time.monotonic
    started: float = field(init=False)
    done_weight: float = field(init=False, default=0.0)
    index: int = field(init=False, default=0)
    _current: str = field(init=False, default="")
    _done_at: float = field(init=False, default=0.0)  # elapsed when the last phase ended

    def __post_init__(self) -> None:
        if not self.weights or any(w < 0 for w in self.weights):
            raise ValueError("progress needs one non-negative weight per phase")
        self.started = self.clock()

    @property
    def total(self) -> int:
        """The number of phases."""
        return len(self.weights)

    def elapsed(self) -> float:
        """Seconds since the reporter was made."""
        return self.clock() - self.started

    def remaining(self) -> float:
        """Estimated seconds left: the weights not yet done, at the pace measured so far,
        less the time the current phase has run already (so a long phase counts down)."""
        if self.index >= self.total:
            return 0.0
        pace = self._done_at / self.done_weight if self.done_weight > 0 else 1.0
        current = self.weights[self.index] * pace
        later = sum(self.weights[self.index + 1 :]) * pace
        return later + max(current - (self.elapsed() - self._done_at), 0.0)

    def line(self, text: str) -> str:
        """The progress line for ``text`` at this moment."""
        shown = min(self.index + 1, self.total)
        return (
            f"[{self.label} {shown}/{self.total}, {format_duration(self.elapsed())} elapsed, "
            f"about {format_duration(self.remaining())} left] {text}"
        )

    def start(self, text: str) -> None:
        """Announce the next phase (call :meth:`done` when it ends)."""
        self._current = text
        self.echo(self.line(text))

    def done(self, result: str = "") -> None:
        """The current phase has ended: count its weight and say so, with ``result``."""
        if self.index >= self.total:
            raise RuntimeError(f"{self.label}: more phases ended than the {self.total} declared")
        self.done_weight += self.weights[self.index]
        self.index += 1
        self._done_at = self.elapsed()
        suffix = f": {result}" if result else ""
        self.echo(
            f"[{self.label} {self.index}/{self.total} done, {format_duration(self.elapsed())} "
            f"elapsed, about {format_duration(self.remaining())} left] {self._current}{suffix}"
        )
        self._current = ""

    @contextmanager
    def phase(self, text: str, *, every_s: float = 0.0) -> Iterator[None]:
        """``start`` then ``done`` around a block; with ``every_s`` a heartbeat repeats the line."""
        self.start(text)
        stop = threading.Event()
        beat = None
        if every_s > 0:
            beat = threading.Thread(target=self._heartbeat, args=(text, every_s, stop), daemon=True)
            beat.start()
        try:
            yield
        finally:
            stop.set()
            if beat is not None:
                beat.join()
        self.done()

    def _heartbeat(self, text: str, every_s: float, stop: threading.Event) -> None:
        while not stop.wait(every_s):
            self.echo(self.line(f"{text} (still running)"))
