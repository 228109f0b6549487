"""The cyclic garbage collector paused while an audit or a plan builds its objects.

An audit of 10,000 sessions makes a few hundred thousand small objects that all stay alive
until it returns, and holds no reference cycles of its own; the collector, run every 700
allocations, walks them again and again (a quarter of the audit's time, measured in
benchmarks/FINDINGS.md). Reference counting still frees everything as usual; only cycles wait
for the collector, which runs again as soon as the pause ends."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    """Nests: only the outermost pause turns the collector back on (if it was on)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
