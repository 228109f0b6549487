"""The journal engine's own tests run in a process that cannot import the application: a finder
on the import path refuses `operations` (and so anything that leans on it), so a test that needs
it, or an engine module that reaches for it, fails here. The top-level suite runs this folder in
such a process (`tests/test_journal_engine.py`), with `--confcutdir tests/journal` so that the
top-level conftest, which imports the application, is never loaded."""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import pytest

from tests.journal.world import World, make_world

FORBIDDEN = "operations"


class NoApplication(importlib.abc.MetaPathFinder):
    """Refuses every import of the application's package."""

    def find_spec(self, name: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if name == FORBIDDEN or name.startswith(FORBIDDEN + "."):
            raise ImportError(f"{name} imported where only the journal engine may be: the engine must stand alone")
        return None


def _application_loaded() -> list[str]:
    return sorted(n for n in sys.modules if n == FORBIDDEN or n.startswith(FORBIDDEN + "."))


if _application_loaded():  # loaded into the top-level suite's process: these tests would prove nothing here
    raise RuntimeError(f"the journal's tests must run in a process of their own; already loaded: "
                       f"{_application_loaded()[:5]}")
sys.meta_path.insert(0, NoApplication())


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Nothing got past the finder (a module cached before it was installed, say)."""
    if _application_loaded():
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"FAILED: the application was imported: {_application_loaded()[:5]}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)
