"""The CLI as the tests drive it, and the engine's test world (`tests/journal/world.py`) written by this tool."""

from __future__ import annotations

import functools
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import typer.testing
from typer.testing import CliRunner

from journal.clock import Services
from operations.cli.app import app
from operations.compensate import tool_info
from tests.journal.world import TickingClock, World, sha
from tests.journal.world import fixed_services as engine_services
from tests.journal.world import make_world as engine_world

__all__ = ["TickingClock", "World", "cli", "cli_json", "fixed_services", "make_world", "real_time_clock",
           "real_time_services", "runner", "sha"]

# Typer turns the app into its click command at every invoke (about 0.1 s, more than most commands
# here take; the fuzz tests make thousands of calls): the runner's lookup is memoized once, here.
typer.testing._get_command = functools.cache(typer.testing._get_command)  # type: ignore[attr-defined]
runner = CliRunner()
# Build the click command once, not at every invoke (typer rebuilds it from the functions' signatures
# each time, a tenth of a second the suite spent thousands of times).
_build_command = typer.testing._get_command  # noqa: SLF001
typer.testing._get_command = functools.cache(_build_command)  # type: ignore[attr-defined]  # noqa: SLF001


def real_time_clock() -> TickingClock:
    """For homes the real Codex writes: its files bear today's time, so the tool's clock must too
    (a frozen date falls behind them as the calendar moves on)."""
    return TickingClock(datetime.now(UTC))


def fixed_services(seed: int | None = None, clock: TickingClock | None = None) -> Services:
    """Deterministic services that name this tool and spell its commands as the CLI does."""
    return engine_services(seed, clock, tool=tool_info("test"))


def real_time_services(seed: int | None = None) -> Services:
    return fixed_services(seed, real_time_clock())


def cli(*args: str) -> Any:
    return _invoke(list(args))


def cli_json(*args: str) -> tuple[int, dict[str, Any]]:
    result = _invoke([*args, "--json"])
    return result.exit_code, orjson.loads(result.stdout)


def _invoke(args: list[str]) -> Any:
    """As the shell would run it: sys.argv too (runs record it, and messages repeat it)."""
    saved = sys.argv
    sys.argv = ["codex-sessions", *args]
    try:
        return runner.invoke(app, args)
    finally:
        sys.argv = saved


def make_world(tmp_path: Path) -> World:
    """The engine's test world, its journal where the CLI looks for it in a home, written by this tool."""
    return engine_world(tmp_path, tool=tool_info("test"), journal_folder="codex-sessions")
