"""What every command resolves first: services (clock, ids, tool), the journal writer, the home."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

from journal.clock import Services
from journal.store import JournalWriter
from operations.compensate import tool_info
from operations.home import CodexHome, locate

__all__ = ["CodexHome", "locate", "make_services", "tool_services", "writer_if"]


def tool_services() -> Services:
    """The system clock and ids, and this tool's name, version and commands for the journal."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        tool_version = version("codex-sessions")
    except PackageNotFoundError:
        tool_version = "unknown"
    return Services(tool=tool_info(tool_version))


# Tests replace this to control the clock and the id source.
make_services: Callable[[], Services] = tool_services


@contextlib.contextmanager
def writer_if(apply: bool, journal: Path, services: Services, argv: list[str]) -> Iterator[JournalWriter | None]:
    """With --apply, the journal's lock is taken before anything is planned: a second writer
    is refused at once, naming this run, instead of racing it."""
    if not apply:
        yield None
        return
    with JournalWriter(str(journal), services, argv=argv) as writer:
        yield writer
