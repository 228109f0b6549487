"""Stopping at an operation boundary when SIGINT or SIGTERM arrives.

The application's signal handler asks `STOP` what to do. Inside a journaled run (`STOP.deferring`)
it only records the request: the runner, and recovery, look at it between operations, make what
is done durable, record the rest as not started, end the run and raise `Interrupted`. Outside
one, nothing journaled is under way, so the handler may end the command at once. A second
signal while stopping changes nothing: the stop is already on its way to the next boundary.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class StopRequest:
    """A stop asked for by a signal, and whether a journaled run is under way."""

    def __init__(self) -> None:
        self.signal: str | None = None
        self.depth = 0
        self.ended_run: str | None = None  # the last run this process ended, for an interrupt after it

    @property
    def deferring(self) -> bool:
        return self.depth > 0

    def requested(self) -> bool:
        """Whether a signal asked for a stop (a call, not a property: it changes under our feet)."""
        return self.signal is not None

    def request(self, name: str) -> bool:
        """Record a stop; True for the first one."""
        first = self.signal is None
        self.signal = self.signal or name
        return first

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """While inside, a signal only asks for a stop at the next operation boundary."""
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1

    def reset(self) -> None:
        self.signal = None
        self.depth = 0
        self.ended_run = None


STOP = StopRequest()
