"""The desktop app's catalog `sqlite/codex-dev.db` (reported columns, an older and a newer
`user_version`): found where the app keeps it, its health read, and never written."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from fixtures.desktop import CatalogRow, write_catalog
from tests.desktophome import desktop_home
from tests.helpers import cli, cli_json


def _state(path: Path) -> tuple[str, int, list[str]]:
    return (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns,
            sorted(p.name for p in path.parent.iterdir()))


@pytest.mark.parametrize("user_version", [30, 34])
def test_a_stale_catalog_is_reported_and_never_written(tmp_path: Path, user_version: int) -> None:
    """#34076, #35088 (initial build incomplete, fewer rows), #42628 (missing_candidate, ghosts)."""
    home = desktop_home(tmp_path, "healthy", sessions=20)
    threads = sorted(home.built.sessions)
    rows = [CatalogRow(t, "azure") for t in threads[:12]]
    rows[0] = CatalogRow(threads[0], "azure", missing_candidate=True)
    rows[1] = CatalogRow(threads[1], "openai")  # the thread's provider is azure
    rows.append(CatalogRow("00000000-0000-7000-8000-00000000dead", "azure"))  # a thread this home lacks
    catalog = home.root / "sqlite" / "codex-dev.db"
    write_catalog(catalog, user_version, rows, initial_build_complete=False)
    before = _state(catalog)
    code, data = cli_json("audit", "--codex-home", str(home.root))
    assert code == 0, data
    assert _state(catalog) == before  # not a byte, not its mtime, no -wal or -shm beside it
    desktop = data["data"]["desktop"]
    (summary,) = desktop["catalogs"]
    assert summary["user_version"] == user_version and summary["rows"] == 13
    assert summary["initial_build_incomplete"] is True and summary["missing_candidates"] == 1
    assert ("project_id" in summary["columns"]) is (user_version == 34)
    findings = desktop["findings"]
    assert findings["catalog_initial_build_incomplete"]["count"] == 1
    assert findings["catalog_fewer_rows"]["sample"] == [f"{catalog}: 13 rows for 20 listed threads"]
    assert set(findings["catalog_missing_thread"]["sample"]) <= set(threads[12:])
    assert findings["catalog_missing_thread"]["count"] == 8
    assert findings["catalog_missing_candidate"]["sample"] == [threads[0]]
    assert findings["catalog_provider_mismatch"]["sample"] == [threads[1]]
    assert findings["catalog_ghost"]["sample"] == ["00000000-0000-7000-8000-00000000dead"]
    # the sidebar model takes a stale catalog's gaps as hidden (reported)
    code, explained = cli_json("audit", "--codex-home", str(home.root), "--explain", threads[15])
    sidebar = explained["data"]["desktop"]["sidebar"]
    assert sidebar["shown"] is False and any(r.startswith("catalog: absent") for r in sidebar["reasons"])
    assert explained["data"]["desktop"]["catalogs"][0]["present"] is False
    assert _state(catalog) == before


def test_a_complete_catalog_hides_nothing(tmp_path: Path) -> None:
    home = desktop_home(tmp_path, "healthy", sessions=10)
    write_catalog(home.root / "sqlite" / "codex-dev.db", 34, [CatalogRow(t, "azure") for t in home.built.sessions],
                  initial_build_complete=True)
    code, data = cli_json("audit", "--codex-home", str(home.root))
    findings = data["data"]["desktop"]["findings"]
    assert not [c for c in findings if c.startswith("catalog_")], findings
    assert data["data"]["desktop"]["sidebar"]["shown"] == 10


def test_the_catalog_under_the_users_codex_folder_is_found_but_not_applied(tmp_path: Path) -> None:
    """#35817: the app keeps its catalog in ~/.codex even when CODEX_HOME is elsewhere."""
    home = desktop_home(tmp_path, "healthy", sessions=6)
    user_codex = Path(os.environ["HOME"]) / ".codex" / "sqlite" / "codex-dev.db"
    write_catalog(user_codex, 34, [], initial_build_complete=False)
    code, data = cli_json("audit", "--codex-home", str(home.root))
    (summary,) = data["data"]["desktop"]["catalogs"]
    assert summary["path"] == str(user_codex) and "#35817" in summary["found_by"]
    assert data["data"]["desktop"]["sidebar"]["shown"] == 6  # another home's catalog hides nothing here


@pytest.mark.parametrize("content", [b"this is not a database at all" * 100, b"SQLite format 3\x00" + b"\x00" * 80])
def test_an_unreadable_catalog_is_a_finding(tmp_path: Path, content: bytes) -> None:
    home = desktop_home(tmp_path, "healthy", sessions=4)
    catalog = home.root / "sqlite" / "codex-dev.db"
    catalog.parent.mkdir()
    catalog.write_bytes(content)
    result = cli("audit", "--codex-home", str(home.root), "--json")
    assert result.exit_code == 0 and "Traceback" not in result.output
    code, data = cli_json("audit", "--codex-home", str(home.root))
    assert "catalog_unreadable" in data["data"]["desktop"]["findings"]
    assert catalog.read_bytes() == content
