"""The suite never reaches the user's own home: every Codex it starts runs with HOME and
CODEX_HOME in a temporary folder, and the session fails if the real ~/.codex changed."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests import conftest
from tests.codex.harness import AppServer, CodexFailed, CodexSession, processes_mentioning
from tests.codex.mock_api import MockResponsesAPI
from tests.home_guard import differences, snapshot


def real_homes() -> list[Path]:
    """The user's real homes, as the session guard found them before it redirected HOME."""
    assert conftest._guard is not None
    return conftest._guard.homes


WHERE_CODEX_LOOKS = ("HOME", "CODEX_HOME", "USERPROFILE", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME",
                     "XDG_STATE_HOME")


def _inside(path: str, folder: Path) -> bool:
    return os.path.commonpath([os.path.realpath(path), os.path.realpath(folder)]) == os.path.realpath(folder)


def test_the_harness_gives_codex_only_temporary_homes(tmp_path: Path) -> None:
    with MockResponsesAPI() as api:
        session = CodexSession(Path("/nonexistent/codex"), tmp_path / "home", api)
        env = session.env()
    for name in WHERE_CODEX_LOOKS:
        assert _inside(env[name], tmp_path), (name, env[name])
    for home in real_homes():
        assert not any(_inside(env[name], home) for name in WHERE_CODEX_LOOKS if not _inside(env[name], tmp_path))


def test_the_harness_refuses_a_home_outside_the_temporary_folder(tmp_path: Path) -> None:
    temp = Path(tempfile.gettempdir())
    homes = [h / ".codex" for h in real_homes() if not _inside(str(h), temp)]
    for home in (Path("/srv/not-a-temporary-folder/.codex"), *homes):
        with MockResponsesAPI() as api, pytest.raises(CodexFailed, match="not inside the temporary folder"):
            CodexSession(Path("/nonexistent/codex"), home, api)


def test_the_session_runs_with_the_real_home_out_of_reach() -> None:
    guard = conftest._guard
    assert guard is not None
    assert guard.folders and all(folder.name == ".codex" or folder == Path(guard.saved["CODEX_HOME"] or "")
                                 for folder in guard.folders)
    assert os.environ["HOME"] != str(guard.saved["HOME"])  # this test's own, from isolated_env
    assert Path(guard.temp / "user-home").is_dir() and not _inside(str(guard.temp), real_homes()[0])


def test_the_home_guard_sees_an_entry_created_changed_or_removed(tmp_path: Path) -> None:
    folder = tmp_path / ".codex"
    before = snapshot(folder)
    assert before is None
    (folder / "tmp" / "arg0").mkdir(parents=True)
    created = snapshot(folder)
    assert differences(before, created) == ["it was created"]
    (folder / "tmp" / "arg0" / "codex-arg0x").write_bytes(b"helper")
    added = snapshot(folder)
    assert "tmp/arg0/codex-arg0x: added" in differences(created, added)
    os.utime(folder / "tmp" / "arg0" / "codex-arg0x", ns=(1, 1))
    assert differences(added, snapshot(folder)) == ["tmp/arg0/codex-arg0x: changed"]
    assert differences(snapshot(folder), snapshot(folder)) == []


@pytest.mark.codex
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/PID/environ")
def test_every_process_of_a_live_codex_has_its_homes_in_tmp(tmp_path: Path,
                                                            codex_binary_for: Callable[[str], Path]) -> None:
    """The npm wrapper and the native binary it starts, while an app-server runs: both homes in
    tmp, and the real ~/.codex exactly as it was."""
    real = {home: snapshot(home / ".codex") for home in real_homes()}
    home = tmp_path / "home"
    home.mkdir()
    with MockResponsesAPI() as api:
        codex = CodexSession(codex_binary_for("0.171.0"), home, api)
        codex.write_config()
        codex.exec("one session", tmp_path / "proj")
        with AppServer(codex) as server:
            server.request("thread/list", {"sourceKinds": ["exec"]})
            pids = processes_mentioning(str(home))
            assert len(pids) >= 2  # the wrapper and the binary
            for pid in pids:
                with open(f"/proc/{pid}/environ", "rb") as handle:
                    env = dict(item.split(b"=", 1) for item in handle.read().split(b"\0") if b"=" in item)
                for name in ("HOME", "CODEX_HOME"):
                    assert _inside(env[name.encode()].decode(), tmp_path), (pid, name, env.get(name.encode()))
        codex.close()
    for folder, before in real.items():
        assert differences(before, snapshot(folder / ".codex")) == [], folder
