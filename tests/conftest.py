from __future__ import annotations

from pathlib import Path

import pytest

from operations.cli import context
from tests.helpers import World, fixed_services, make_world


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test can touch a real ~/.codex: every location points into tmp_path."""
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HOME", str(tmp_path / "user-home"))
    monkeypatch.delenv("CODEX_SQLITE_HOME", raising=False)
    monkeypatch.delenv("CODEX_SESSIONS_JOURNAL", raising=False)
    monkeypatch.setattr(context, "make_services", fixed_services)


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)
