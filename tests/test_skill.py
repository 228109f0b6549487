"""`skill install` / `skill uninstall`: the method as a skill, written and removed without a trace.

Codex's own validator and `skills/list` are checked against the real binary in
test_codex_skill.py; here, the text and the file handling."""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from operations.skill import SKILL_NAME, shipped_files
from tests.helpers import cli, cli_json


def snapshot(root: Path) -> dict[str, Any]:
    """Every path under root with its bytes (files) and mtime, folders included, and root's own mtime."""
    out: dict[str, Any] = {".": root.stat().st_mtime_ns}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        out[str(path.relative_to(root))] = (path.read_bytes() if path.is_file() and not path.is_symlink() else "dir",
                                            st.st_mtime_ns)
    return out


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A Codex home with the system skills and one skill of the user's."""
    home = tmp_path / "codex-home"
    for rel, text in (("skills/.system/skill-creator/SKILL.md", "---\nname: skill-creator\n---\n"),
                      ("skills/.system/.codex-system-skills.marker", "c97ed5ddabec1e4\n"),
                      ("skills/my-own/SKILL.md", "---\nname: my-own\ndescription: mine\n---\n")):
        (home / rel).parent.mkdir(parents=True, exist_ok=True)
        (home / rel).write_text(text)
    (home / "config.toml").write_text('model = "gpt-5"\n')
    for path in sorted(home.rglob("*"), reverse=True):  # settled mtimes, so any change shows
        os.utime(path, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    os.utime(home, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    return home


def install(home: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    return cli_json("skill", "install", "--codex-home", str(home), *extra)


def uninstall(home: Path) -> tuple[int, dict[str, Any]]:
    return cli_json("skill", "uninstall", "--codex-home", str(home))


def frontmatter(text: str) -> dict[str, Any]:
    match = re.match(r"^---\n(.*?)\n---", text, re.DOTALL)
    assert match
    data = yaml.safe_load(match.group(1))
    assert isinstance(data, dict)
    return data


def test_the_skill_is_shaped_like_the_skills_codex_ships() -> None:
    files = {f.rel: f.data.decode() for f in shipped_files()}
    assert set(files) == {"SKILL.md", "agents/openai.yaml", "references/prompts.md"}
    meta = frontmatter(files["SKILL.md"])
    assert meta["name"] == SKILL_NAME and set(meta) <= {"name", "description", "license", "allowed-tools", "metadata"}
    assert len(meta["description"]) <= 1024 and "<" not in meta["description"] and ">" not in meta["description"]
    interface = yaml.safe_load(files["agents/openai.yaml"])["interface"]
    assert set(interface) == {"display_name", "short_description", "default_prompt"}
    assert 25 <= len(interface["short_description"]) <= 64
    assert f"${SKILL_NAME}" in interface["default_prompt"]


def test_the_skill_never_applies_before_the_users_go_ahead() -> None:
    files = {f.rel: f.data.decode() for f in shipped_files()}
    skill = files["SKILL.md"]
    assert "Never apply anything without the user's explicit go-ahead" in skill
    steps = [skill.index(s) for s in ("**Audit (read-only).**", "**Dry run.**", "**Wait for the user's confirmation.**",
                                      "**Apply (by the user, Codex closed).**", "**Before/after report.**",
                                      "**The way back.**")]
    assert steps == sorted(steps)
    workflow = skill[skill.index("## Workflow"):]
    assert workflow.index("--apply") > workflow.index("**Wait for the user's confirmation.**")
    templates = files["references/prompts.md"].split("## Template ")[1:]
    assert [t.split("\n", 1)[0] for t in templates] == [
        "1: Full safe recovery", "2: Provider-only visibility migration", "3: Integrity check only"]
    for template in templates[:2]:
        assert template.index("Wait for my confirmation") < template.index("--apply")
    assert "--apply" not in templates[2].replace("do not propose --apply", "")


def test_every_command_the_skill_names_exists() -> None:
    """The skill cannot teach a command or an option this tool does not have."""
    text = "\n".join(f.data.decode() for f in shipped_files())
    commands = set(re.findall(r"`codex-sessions ((?:run [a-z-]+)|[a-z]+)((?: --?[a-z][a-z-]*)*)", text))
    assert {c for c, _ in commands} >= {"audit", "fix", "transcript", "undo", "log", "show", "run migrate-provider"}
    for command, options in commands:
        result = cli(*command.split(), "--help")
        assert result.exit_code == 0, command
        for option in options.split():
            assert option in result.stdout or option in ("--apply",), (command, option)


def test_install_then_uninstall_leaves_the_home_as_it_was(home: Path) -> None:
    before = snapshot(home)
    status, data = install(home)
    assert status == 0 and data["data"]["action"] == "installed"
    folder = home / "skills" / SKILL_NAME
    assert {f.rel: (folder / f.rel).read_bytes() for f in shipped_files()} == {f.rel: f.data for f in shipped_files()}
    installed = snapshot(home)
    status, data = install(home)  # again: nothing changes, not even an mtime
    assert status == 0 and data["data"]["action"] == "unchanged" and snapshot(home) == installed
    status, data = uninstall(home)
    assert status == 0 and data["data"]["action"] == "uninstalled" and not data["data"]["folder_kept"]
    assert snapshot(home) == before
    status, data = uninstall(home)
    assert status == 0 and data["data"]["action"] == "not_installed"


def test_a_home_without_skills_gets_them_and_loses_them_again(home: Path) -> None:
    shutil.rmtree(home / "skills")
    os.utime(home, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    before = snapshot(home)
    assert install(home)[0] == 0 and (home / "skills" / SKILL_NAME / "SKILL.md").is_file()
    assert uninstall(home)[0] == 0
    assert snapshot(home) == before and not (home / "skills").exists()


def test_uninstall_keeps_what_the_user_changed_or_added(home: Path) -> None:
    install(home)
    folder = home / "skills" / SKILL_NAME
    (folder / "notes.md").write_text("my notes")
    (folder / "references" / "prompts.md").write_text("my own prompts")
    status, data = uninstall(home)
    assert status == 0 and data["data"]["folder_kept"]
    assert sorted(data["data"]["removed"]) == ["SKILL.md", "agents/openai.yaml"]
    assert sorted(data["data"]["kept"]) == ["notes.md", "references/prompts.md"]
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == \
        ["notes.md", "references/prompts.md"]
    assert not (folder / "agents").exists()
    status, data = install(home)  # a folder with no manifest of ours: not ours any more
    assert status == 3 and data["errors"][0]["code"] == "skill_refused"


def test_install_refuses_a_skill_of_that_name_it_did_not_write_unless_forced(home: Path) -> None:
    folder = home / "skills" / SKILL_NAME
    folder.mkdir()
    (folder / "SKILL.md").write_text("---\nname: codex-sessions\ndescription: someone else's\n---\n")
    (folder / "extra.txt").write_text("theirs")
    os.utime(folder / "SKILL.md", ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    theirs = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()}
    status, data = install(home)
    assert status == 3 and data["errors"][0]["code"] == "skill_refused"
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()} == theirs
    status, data = install(home, "--force")
    assert status == 0 and data["data"]["set_aside"] == ["SKILL.md"]
    assert (folder / "SKILL.md.before-codex-sessions").read_bytes() == theirs[folder / "SKILL.md"][0]
    assert (folder / "SKILL.md").read_bytes() == next(f.data for f in shipped_files() if f.rel == "SKILL.md")
    status, data = uninstall(home)
    assert status == 0 and data["data"]["restored"] == ["SKILL.md"]
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()} == theirs


@pytest.mark.skipif(sys.platform == "win32", reason="a symlink needs privileges on Windows")
def test_install_refuses_to_write_through_a_symlink_or_outside_skills(home: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.rmtree(home / "skills")
    (home / "skills").symlink_to(elsewhere, target_is_directory=True)
    status, data = install(home)
    assert status == 3 and data["errors"][0]["code"] == "outside_home"
    assert list(elsewhere.iterdir()) == []
    status, data = cli_json("skill", "install", "--codex-home", str(tmp_path / "no-such-home"))
    assert status == 2


def test_uninstall_trusts_no_manifest_that_points_outside_the_skill(home: Path, tmp_path: Path) -> None:
    install(home)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    manifest = home / "skills" / SKILL_NAME / ".codex-sessions-skill.json"
    data = orjson.loads(manifest.read_bytes())
    data["files"]["../../../victim.txt"] = "0" * 64
    manifest.write_bytes(orjson.dumps(data))
    installed = snapshot(home)
    status, result = uninstall(home)
    assert status == 3 and result["errors"][0]["code"] == "skill_refused"
    assert victim.read_text() == "keep me" and snapshot(home) == installed
    manifest.write_text("not json")
    assert uninstall(home)[0] == 3 and snapshot(home) != installed  # only the manifest differs


def test_every_file_of_the_skill_is_package_data() -> None:
    """A wheel carries only what `pyproject.toml` names: every shipped file must match a pattern."""
    import tomllib

    root = Path(__file__).resolve().parents[1]
    patterns = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["operations"]
    base = root / "operations"
    shipped = [p.relative_to(base) for p in (base / "skill" / "files").rglob("*") if p.is_file()]
    assert len(shipped) == len(shipped_files())
    for rel in shipped:
        assert any(rel.match(pattern) and len(rel.parts) == len(Path(pattern).parts) for pattern in patterns), rel
