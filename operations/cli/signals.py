"""SIGINT and SIGTERM during a command.

While a journaled run is under way (the runner or recovery holds `STOP` deferred), a signal
only asks it to stop at the next operation boundary: the run makes what is done durable,
records the rest as not started, and ends with `Interrupted` (exit 130), saying what was
done, what was not, and how to go on or take it back. A second signal while it stops is
told to wait: it never cuts an operation in half. Outside a run nothing journaled is under
way, so the command ends at once (exit 130), saying whether a run had already ended.
Handlers are installed only in the main thread, and SIGTERM only where the OS has it.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from journal.errors import Interrupted
from journal.interrupt import STOP


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    name = signal.Signals(signum).name
    if STOP.deferring:
        first = STOP.request(name)
        sys.stderr.write(f"\n{name}: stopping at the next operation boundary; what is done is being made durable\n"
                         if first else f"\n{name}: already stopping; wait a moment, nothing is cut in half\n")
        sys.stderr.flush()
        return
    STOP.request(name)
    raise KeyboardInterrupt(name)


@contextmanager
def stops_at_boundaries() -> Iterator[None]:
    """Install the handlers for one command (main thread only), and remove them after."""
    STOP.reset()
    if threading.current_thread() is not threading.main_thread():
        try:
            yield
        finally:
            STOP.reset()
        return
    previous: dict[int, object] = {}
    for name in ("SIGINT", "SIGTERM"):
        number = getattr(signal, name, None)
        if number is None:
            continue
        try:
            previous[number] = signal.signal(number, _on_signal)
        except (ValueError, OSError):  # not supported here
            continue
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)  # type: ignore[arg-type]
        STOP.reset()  # a signal this command took is not the next one's


def interrupted_outside_run(tool: str) -> Interrupted:
    """The error for a signal that arrived while no journaled run was under way."""
    name = STOP.signal or "SIGINT"
    if STOP.ended_run:
        return Interrupted(f"interrupted by {name} after run {STOP.ended_run} had ended: it is recorded whole, nothing "
                           f"to recover. To take it back: `{tool} undo {STOP.ended_run} --apply`",
                           details={"run": STOP.ended_run})
    return Interrupted(f"interrupted by {name} before any change was made: nothing was changed",
                       details={"run": None})
