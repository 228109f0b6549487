from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from operations.cli import context
from tests.helpers import World, fixed_services, make_world, real_time_services
from tests.home_guard import HomeGuard

# Property tests: a fixed seed (derandomize), no example database, no deadline (this
# machine is shared and noisy, so no test may depend on its speed).
settings.register_profile("suite", derandomize=True, database=None, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.load_profile("suite")

_guard: HomeGuard | None = None
# The journal engine's own tests run in a process of their own (tests/test_journal_engine.py).
collect_ignore = ["journal"]


def pytest_configure(config: pytest.Config) -> None:
    """Before anything is collected: the real home is out of reach for the whole session."""
    global _guard
    _guard = HomeGuard()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The run fails if the user's own Codex home changed while it ran."""
    changes = _guard.changes() if _guard else {}
    if changes:
        lines = [f"{folder}: {', '.join(diff[:10])}" + (f" and {len(diff) - 10} more" if len(diff) > 10 else "")
                 for folder, diff in changes.items()]
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = ("the user's own Codex home changed during the test run (if Codex itself ran meanwhile, stop "
                   "it and run again): " + "; ".join(lines))
        if reporter is not None:
            reporter.write_line(f"FAILED home guard: {message}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """How many cases each property test ran (tests/fuzzing.py counts them)."""
    from tests.fuzzing import COUNTS

    if COUNTS:
        terminalreporter.write_line("fuzz cases: " + ", ".join(f"{name} {n}" for name, n in COUNTS.items())
                                    + f"; {sum(COUNTS.values())} in all")


def pytest_unconfigure(config: pytest.Config) -> None:
    if _guard is not None:
        _guard.close()


LINUX_ONLY = "drives the Linux x86-64 Codex binary through /proc and process groups: Linux only"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that can only run on Linux say so and skip elsewhere (the CI workflow's macOS and
    Windows runners run the rest)."""
    if sys.platform.startswith("linux"):
        return
    for item in items:
        if item.get_closest_marker("codex"):
            item.add_marker(pytest.mark.skip(reason=LINUX_ONLY))
        elif item.get_closest_marker("posix") and sys.platform == "win32":
            item.add_marker(pytest.mark.skip(reason="holds locks with fcntl in helper processes: POSIX only"))


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    """No test can touch a real ~/.codex: every location points into tmp_path.

    The tool's clock is frozen, except in tests against the real Codex, whose files bear
    today's time: there it ticks from the real now, so no test depends on the calendar."""
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HOME", str(tmp_path / "user-home"))
    monkeypatch.delenv("CODEX_SQLITE_HOME", raising=False)
    monkeypatch.delenv("CODEX_SESSIONS_JOURNAL", raising=False)
    real_codex = request.node.get_closest_marker("codex") is not None
    monkeypatch.setattr(context, "make_services", real_time_services if real_codex else fixed_services)


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


@pytest.fixture(scope="session")
def codex_binary_for() -> Callable[[str], Path]:
    """The cached real Codex binary; a missing one fails in CI and skips loudly elsewhere."""
    from tests.codex.harness import codex_binary

    def get(version: str) -> Path:
        binary = codex_binary(version)
        if binary is None:
            message = (f"real Codex {version} is not installed (run scripts/install-codex); "
                       "the tests against the real binary did NOT run")
            if os.environ.get("CI") or shutil.which("npm"):
                pytest.fail(message)
            pytest.skip(message)
        return binary

    return get
