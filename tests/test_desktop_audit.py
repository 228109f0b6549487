"""The audit reads the desktop app's layers: projects in state_5, the app's state file (in the
shapes users reported) and what the sidebar shows; a malformed state file is a finding, never a
traceback."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from fixtures.desktop import ProjectFixture
from operations.desktop import statefile
from tests.desktophome import DesktopHome, desktop_home
from tests.helpers import cli, cli_json


def _audit(home: DesktopHome, *extra: str) -> dict[str, Any]:
    code, data = cli_json("audit", "--codex-home", str(home.root), *extra)
    assert code == 0, data
    return data["data"]


def _findings(data: dict[str, Any]) -> dict[str, Any]:
    return data["desktop"]["findings"]


def _sample(data: dict[str, Any], code: str) -> list[str]:
    return data["desktop"]["findings"][code]["sample"]


def test_healthy_state_agrees_with_state_5(tmp_path: Path) -> None:
    home = desktop_home(tmp_path, "healthy", sessions=30)
    data = _audit(home)
    findings = _findings(data)
    assert not [code for code in findings if code.startswith(("state_", "catalog_"))], findings
    assigned = set(home.projects[0].threads)
    claimable = set(home.ids_in("app", "sub", "lib")) - assigned
    assert findings["project_claimable"]["count"] == len(claimable) > 0
    assert set(_sample(data, "project_claimable")) <= claimable
    desktop = data["desktop"]
    assert desktop["state_file"]["parses"] is True and desktop["state"]["local_projects"] == 2
    assert desktop["host"] == f"local:{home.root}"
    sidebar = {p["name"]: p for p in desktop["sidebar"]["projects"]}
    # every thread in work/app is grouped under `app`: two by their project_id, the rest by root
    # (work/app/sub is no root, so those threads sit in no project)
    assert sidebar["app"]["threads"] == len(home.ids_in("app"))
    assert sidebar["lib"]["threads"] == len(home.ids_in("lib")) and not sidebar["app"]["shows_no_chats"]


def test_the_text_report_has_a_desktop_section_and_redact_drops_names(tmp_path: Path) -> None:
    home = desktop_home(tmp_path, "healthy", sessions=12)
    text = cli("audit", "--codex-home", str(home.root)).stdout
    assert "desktop app (projects verified with the Codex binary" in text and "project_claimable" in text
    code, redacted = cli_json("audit", "--codex-home", str(home.root), "--redact")
    assert code == 0
    blob = str(redacted)
    assert str(home.folders["app"]) not in blob and "'app'" not in blob and home.projects[0].id not in blob
    assert redacted["data"]["desktop"]["findings"]["project_claimable"] > 0
    assert redacted["data"]["desktop"]["state_file"] == {"exists": True, "parses": True,
                                                         "size": (home.root / statefile.STATE_FILE).stat().st_size,
                                                         "nul_bytes": 0}


def test_nul_damaged_state_file_with_a_good_backup(tmp_path: Path) -> None:
    """#37212, #42739, #43661: a write cut short and padded with NUL bytes; the .bak is good."""
    home = desktop_home(tmp_path, "nul_damaged", sessions=12)
    data = _audit(home)
    findings = _findings(data)
    assert {"state_file_unusable", "state_file_nul_bytes", "state_restorable"} <= set(findings)
    assert "state_backup_unusable" not in findings
    assert "not valid JSON" in _sample(data, "state_file_unusable")[0]
    assert data["desktop"]["sidebar"]["state_usable"] is False
    assert any("fix --desktop" in step for step in data["next_steps"])


def test_wiped_local_projects_while_state_5_keeps_them(tmp_path: Path) -> None:
    """#42739, #42867, #39121: local-projects emptied, assignments gone, threadAssignmentsMigrated false."""
    home = desktop_home(tmp_path, "wiped", sessions=12)
    data = _audit(home)
    findings = _findings(data)
    assert set(_sample(data, "state_projects_missing")) == {p.id for p in home.projects}
    assert "state_migration_incomplete" in findings
    assigned = set(home.projects[0].threads)
    assert set(_sample(data, "sidebar_project_not_shown")) == assigned
    thread = next(iter(assigned))
    code, explained = cli_json("audit", "--codex-home", str(home.root), "--explain", thread)
    assert code == 0
    sidebar = explained["data"]["desktop"]["sidebar"]
    assert sidebar["project"] is None and sidebar["grouped_by"] == "none"
    assert any("not in the app's local-projects" in r for r in sidebar["reasons"])


def test_an_assignment_to_a_missing_project(tmp_path: Path) -> None:
    """#26157, #34076: a project left local-projects while its threads' assignments stayed."""
    home = desktop_home(tmp_path, "dangling_assignment", sessions=12)
    data = _audit(home)
    assert set(_sample(data, "state_assignment_dangling")) == set(home.projects[0].threads)
    assert _sample(data, "state_projects_missing") == [home.projects[0].id]
    code, explained = cli_json("audit", "--codex-home", str(home.root), "--explain", home.projects[0].threads[0])
    reasons = explained["data"]["desktop"]["sidebar"]["reasons"]
    assert any("which the app's local-projects does not hold" in r for r in reasons)


def test_a_local_project_state_5_does_not_hold(tmp_path: Path) -> None:
    home = desktop_home(tmp_path, "healthy", sessions=6)
    path = home.root / statefile.STATE_FILE
    data = json.loads(path.read_bytes())
    data["local-projects"]["ffffffff-0000-4000-8000-000000000000"] = {
        "id": "ffffffff-0000-4000-8000-000000000000", "name": "new in the app", "rootPaths": ["/x"],
        "createdAt": 1, "updatedAt": 1}
    path.write_text(json.dumps(data))
    assert _sample(_audit(home), "state_local_project_unknown") == ["ffffffff-0000-4000-8000-000000000000"]


def test_a_project_whose_threads_are_older_than_the_page_shows_no_chats(tmp_path: Path) -> None:
    """#18640, #20608, #23979, #27314: the sidebar groups one page of 50 by project."""
    probe = desktop_home(tmp_path / "probe", None, sessions=60)
    oldest = tuple(probe.oldest(4))
    home = desktop_home(tmp_path / "real", "healthy", sessions=60, old_threads=oldest)
    data = _audit(home)
    old = next(p for p in data["desktop"]["sidebar"]["projects"] if p["name"] == "old")
    old_local = home.projects[2].local_id
    assert old["shows_no_chats"] is True and old["in_page"] == 0 and old["threads"] == 4 and old["newest_rank"] == 57
    assert _sample(data, "sidebar_no_chats") == [old_local]
    code, explained = cli_json("audit", "--codex-home", str(home.root), "--explain", oldest[0])
    sidebar = explained["data"]["desktop"]["sidebar"]
    assert sidebar["shown"] is False and sidebar["project"] == old_local and sidebar["grouped_by"] == "project_id"
    assert sidebar["rank"] > 50 and any(r.startswith("page: number") for r in sidebar["reasons"])
    text = cli("audit", "--codex-home", str(home.root), "--explain", oldest[0]).stdout
    assert "desktop sidebar (modelled from reports): HIDDEN" in text


def test_a_pinned_thread_is_shown_whatever_its_age(tmp_path: Path) -> None:
    """#25500, #37990: pinning a thread keeps it in view."""
    probe = desktop_home(tmp_path / "probe", None, sessions=60)
    oldest = probe.oldest(1)[0]
    home = desktop_home(tmp_path / "real", "healthy", sessions=60, pinned=(oldest,))
    code, explained = cli_json("audit", "--codex-home", str(home.root), "--explain", oldest)
    sidebar = explained["data"]["desktop"]["sidebar"]
    assert sidebar["shown"] is True and sidebar["section"] == "pinned" and sidebar["rank"] == 60


def test_contested_threads_and_missing_roots(tmp_path: Path) -> None:
    home = desktop_home(tmp_path, "healthy", sessions=20,
                        extra=[ProjectFixture("sub", (str(tmp_path / "work" / "app" / "sub"),)),
                               ProjectFixture("gone", (str(tmp_path / "work" / "renamed-away"),))])
    data = _audit(home)
    assert _findings(data)["project_contested"]["count"] == len(home.ids_in("sub"))
    assert any(s.endswith("renamed-away") for s in _sample(data, "project_root_missing"))
    code, explained = cli_json("audit", "--codex-home", str(home.root), "--explain", home.ids_in("sub")[0])
    assert {c["name"] for c in explained["data"]["desktop"]["claimed_by"]} == {"app", "sub"}
    assert explained["data"]["desktop"]["claimable"] is None


def test_a_home_without_desktop_layers_says_little(tmp_path: Path) -> None:
    from fixtures.generator import HomeSpec, build_home

    built = build_home(tmp_path / "home", HomeSpec(version="0.128.0", sessions=4))
    code, data = cli_json("audit", "--codex-home", str(built.root))
    assert code == 0
    desktop = data["data"]["desktop"]
    assert desktop["in_use"] is False and desktop["findings"] == {} and desktop["projects"]["available"] is False
    assert "desktop app (" not in cli("audit", "--codex-home", str(built.root)).stdout


MALFORMED = {
    "empty": b"",
    "array": b"[1, 2]",
    "cut": b'{"local-projects": {"a": {"id": "a", "na',
    "nul_only": b"\x00" * 64,
    "bom": b"\xef\xbb\xbf{}",
    "not_utf8": b'{"a": "\xff\xfe"}',
    "deep": b"[" * 5000 + b"]" * 5000,
    "bad_shapes": b'{"local-projects": [], "project-order": "x", "thread-project-assignments": {"t": 3},'
                  b' "app-server-project-id-by-legacy-project-id-by-host": {"local:/x": [1]}}',
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_a_malformed_state_file_is_a_finding_never_a_traceback(tmp_path: Path, name: str) -> None:
    home = desktop_home(tmp_path, "healthy", sessions=6)
    (home.root / statefile.STATE_FILE).write_bytes(MALFORMED[name])
    result = cli("audit", "--codex-home", str(home.root), "--json")
    assert result.exit_code == 0 and "Traceback" not in result.output
    code, data = cli_json("audit", "--codex-home", str(home.root))
    findings = data["data"]["desktop"]["findings"]
    if name == "bad_shapes":
        assert findings["state_unknown_shape"]["count"] == 4
    else:
        assert "state_file_unusable" in findings and "state_restorable" in findings
    code, _ = cli_json("audit", "--codex-home", str(home.root), "--explain", home.ids_in("app")[0])
    assert code == 0


def test_a_state_file_larger_than_the_cap_is_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = desktop_home(tmp_path, "healthy", sessions=6)
    monkeypatch.setattr(statefile, "MAX_STATE_BYTES", 64)
    code, data = cli_json("audit", "--codex-home", str(home.root))
    assert code == 0
    assert "more than the 64 this tool reads" in data["data"]["desktop"]["findings"]["state_file_unusable"]["sample"][0]


@pytest.mark.skipif(sys.platform == "win32", reason="FIFOs are POSIX")
def test_a_fifo_in_place_of_the_state_file_does_not_block(tmp_path: Path) -> None:
    home = desktop_home(tmp_path, None, sessions=4)
    os.mkfifo(home.root / statefile.STATE_FILE)
    code, data = cli_json("audit", "--codex-home", str(home.root))
    assert code == 0
    assert "not a regular file" in data["data"]["desktop"]["findings"]["state_file_unusable"]["sample"][0]


def test_values_from_the_state_file_are_shown_shortened(tmp_path: Path) -> None:
    home = desktop_home(tmp_path, "healthy", sessions=4)
    huge = "k" * 100_000
    path = home.root / statefile.STATE_FILE
    data = json.loads(path.read_bytes())
    data["local-projects"][huge] = {"id": "other", "name": "x", "rootPaths": []}
    data["project-order"].append(huge)
    path.write_text(json.dumps(data))
    result = cli("audit", "--codex-home", str(home.root), "--json")
    assert result.exit_code == 0 and huge not in result.stdout
    findings = json.loads(result.stdout)["data"]["desktop"]["findings"]
    assert findings["state_unknown_shape"]["count"] == 1 and findings["state_order_dangling"]["count"] == 1
