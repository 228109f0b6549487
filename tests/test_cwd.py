"""rewrite-cwd and relocate-home on generated homes, and the path rules behind them."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest

from fixtures.generator import VERSIONS, BuiltHome, HomeSpec, build_home
from operations.path_spelling import key, rewrite, spellings
from tests.codexhome import audit, row, run, snapshot, undo


def _home(tmp_path: Path, version: str = "0.169.0", **kw: Any) -> BuiltHome:
    spec = HomeSpec(version=version, sessions=kw.pop("sessions", 8), archived_share=0.0, exec_share=0.0,
                    providers=("azure",), seed=kw.pop("seed", 11), **kw)
    return build_home(tmp_path / "home", spec)


@pytest.mark.parametrize(("path", "source", "target", "style", "expected"), [
    ("/a/proj", "/a/proj", "/b", "posix", "/b"),
    ("/a/proj/sub/dir", "/a/proj", "/b/new", "posix", "/b/new/sub/dir"),
    ("/a/project", "/a/proj", "/b", "posix", None),
    ("/a/proj", "/a/proj/", "/b/", "posix", "/b"),
    ("/a//proj/", "/a/proj", "/b", "posix", "/b"),
    ("/home/Me/x", "/home/me", "/h", "posix", None),
    ("/srv/naïve dir/x y", "/srv/naïve dir", "/data/ü ö", "posix", "/data/ü ö/x y"),
    ("C:\\Users\\me\\proj", "c:/users/me", "/home/me", "windows", "/home/me/proj"),
    ("\\\\?\\C:\\Users\\me\\proj", "C:\\Users\\me", "/home/me", "windows", "/home/me/proj"),
    ("/mnt/c/Users/me/proj", "C:\\Users\\me", "/home/me", "windows", "/home/me/proj"),
    ("/mnt/c/Users/me/proj", "C:\\Users\\me", "/home/me", "posix", None),
    ("\\\\wsl$\\Ubuntu\\home\\u\\p", "\\\\wsl.localhost\\Ubuntu\\home\\u", "/home/u", "wsl", "/home/u/p"),
    ("C:\\work\\app", "C:\\work", "D:\\", "windows", "D:\\app"),
])
def test_path_rules(path: str, source: str, target: str, style: str, expected: str | None) -> None:
    assert rewrite(path, source, target, style) == expected


def test_spellings_group_one_folder() -> None:
    groups = spellings(["C:\\x\\y", "c:\\x\\y\\", "\\\\?\\C:\\x\\y", "/home/a", "/home/a/"])
    assert sorted(map(sorted, groups.values())) == [
        ["/home/a", "/home/a/"], ["C:\\x\\y", "\\\\?\\C:\\x\\y", "c:\\x\\y\\"]]
    assert key("/a/proj") != key("/a/project")


def _cwd_round_trip(built: BuiltHome, *args: str) -> dict[str, Any]:
    before = snapshot(built.root)
    code, dry = run(built.root, "rewrite-cwd", *args)
    assert code == 0, dry
    assert snapshot(built.root) == before
    code, applied = run(built.root, "rewrite-cwd", *args, "--apply")
    assert code == 0, applied
    after = snapshot(built.root)
    report = audit(built.root)
    code, undone = undo(built.root, applied["data"]["run"])
    assert code == 0, undone
    assert snapshot(built.root) == before
    code, again = run(built.root, "rewrite-cwd", *args, "--apply")
    assert code == 0 and snapshot(built.root) == after
    return {"plan": dry["data"]["plan"], "report": report}


@pytest.mark.parametrize("version", VERSIONS)
def test_rewrite_cwd_everywhere_codex_reads_it(tmp_path: Path, version: str) -> None:
    built = _home(tmp_path, version, cwds=("/a/proj", "/a/project", "/a/proj/sub"))
    result = _cwd_round_trip(built, "--from-folder", "/a/proj/", "--to-folder", "/b/new place ü")
    moved = {s.id for s in built.sessions.values() if s.cwd in ("/a/proj", "/a/proj/sub")}
    assert {op["subject"] for op in result["plan"]["operations"]} == moved
    for s in built.sessions.values():
        r = row(built.root, s.id)
        assert r is not None
        expected = {"/a/proj": "/b/new place ü", "/a/proj/sub": "/b/new place ü/sub"}.get(s.cwd, s.cwd)
        assert r["cwd"] == expected
        for line in s.path.read_bytes().splitlines():
            record = orjson.loads(line)
            payload = record["payload"]
            if record["type"] in ("session_meta", "turn_context"):
                assert payload["cwd"] == expected
            if payload.get("type") == "thread_settings_applied":
                assert payload["thread_settings"]["cwd"] == expected
                assert payload["thread_settings"]["runtime_workspace_roots"] == [expected]
        assert s.path.stat().st_mtime_ns == s.mtime_ns
    assert {t["cwd"] for t in audit(built.root)["threads"]} >= {"/a/project"}


def test_windows_paths_in_a_linux_home(tmp_path: Path) -> None:
    built = _home(tmp_path, sessions=12, cwds=("C:\\Users\\me\\proj", "\\\\?\\C:\\Users\\me\\proj",
                                               "\\\\?\\C:\\Users\\me\\proj\\api", "C:\\Users\\me\\other"))
    data = audit(built.root)
    assert data["cwd_spellings"] == [["C:\\Users\\me\\proj", "\\\\?\\C:\\Users\\me\\proj"]]
    assert any("--from-style windows" in s for s in data["suggestions"])
    code, plain = run(built.root, "rewrite-cwd", "--from-folder", "c:/users/me/proj", "--to-folder", "/home/me/proj")
    windows = _cwd_round_trip(built, "--from-folder", "c:/users/me/proj", "--to-folder", "/home/me/proj",
                              "--from-style", "windows")
    expected = {s.id for s in built.sessions.values() if "proj" in s.cwd}
    assert {op["subject"] for op in windows["plan"]["operations"]} == expected
    got = {r["cwd"] for r in (row(built.root, s.id) for s in built.sessions.values()) if r}
    assert got <= {"/home/me/proj", "/home/me/proj/api", "C:\\Users\\me\\other"}
    assert {op["subject"] for op in plain["data"]["plan"]["operations"]} == expected  # drive spellings need no style


def test_map_file_and_pairs(tmp_path: Path) -> None:
    built = _home(tmp_path, cwds=("/old/a", "/old/b", "/keep"))
    mapping = tmp_path / "map.tsv"
    mapping.write_text("# old -> new\n/old/a\t/new/a\n/old/b -> /new/b\n\n")
    code, data = run(built.root, "rewrite-cwd", "--map", str(mapping), "--apply")
    assert code == 0, data
    cwds = {row(built.root, s.id)["cwd"] for s in built.sessions.values()}  # type: ignore[index]
    assert cwds <= {"/new/a", "/new/b", "/keep"} and "/keep" in cwds
    mapping.write_text("just one column\n")
    code, bad = run(built.root, "rewrite-cwd", "--map", str(mapping))
    assert code == 2 and "line 1" in bad["errors"][0]["message"]
    code, bad = run(built.root, "rewrite-cwd", "--from-folder", "/x")
    assert code == 2 and "in pairs" in bad["errors"][0]["message"]


def test_project_roots_on_0_169(tmp_path: Path) -> None:
    built = _home(tmp_path, cwds=("/old/a",))
    conn = sqlite3.connect(built.root / "state_5.sqlite")
    conn.execute("INSERT INTO projects (id, name, position, created_at_ms, updated_at_ms) VALUES ('p1','A',0,1,1)")
    conn.execute("INSERT INTO project_roots VALUES ('p1', 0, '/old/a'), ('p1', 1, '/old/ab')")
    conn.commit()
    code, data = run(built.root, "rewrite-cwd", "--from-folder", "/old/a", "--to-folder", "/new/a", "--apply")
    assert code == 0, data
    roots = conn.execute("SELECT position, path FROM project_roots ORDER BY position").fetchall()
    conn.close()
    assert roots == [(0, "/new/a"), (1, "/old/ab")]


def test_relocate_a_copied_home(tmp_path: Path) -> None:
    built = _home(tmp_path, sessions=5, damage={"missing_file": 1})
    copy = tmp_path / "copy"
    shutil.copytree(built.root, copy)
    data = audit(copy)
    assert data["problems"]["rollout_path_outside_home"] == 5
    assert any(f"relocate-home --from-home {built.root}" in s for s in data["suggestions"])
    code, plan = run(copy, "relocate-home")
    assert code == 0
    assert plan["data"]["plan"]["options"]["from"] == str(built.root)
    assert any("inferred" in w for w in plan["data"]["plan"]["warnings"])
    assert [r["thread"] for r in plan["data"]["plan"]["refused"]] == built.truth["missing_file"]
    original = snapshot(built.root)
    code, applied = run(copy, "relocate-home", "--from-home", str(built.root), "--apply")
    assert code == 0, applied
    assert applied["data"]["counts"]["applied"] == 4
    after = audit(copy)
    assert after["problems"].get("rollout_path_outside_home", 0) == 1  # the missing one is left alone
    assert all(row(copy, s.id)["rollout_path"].startswith(str(copy))  # type: ignore[index]
               for s in built.sessions.values() if s.id not in built.truth["missing_file"])
    assert snapshot(built.root) == original
    code, undone = undo(copy, applied["data"]["run"])
    assert code == 0
    assert os.path.exists(copy / "codex-sessions" / "journal.jsonl")


def test_is_inside_fast_path_agrees_with_the_component_rule() -> None:
    """Absolute POSIX paths take a text shortcut; it must decide exactly as component keys do."""
    import posixpath
    import random

    from operations.path_spelling import inside_of, is_inside, key

    rng = random.Random(11)
    parts = ["a", "ab", "a.b", "..", ".", "", "proj", "project"]
    for _ in range(3000):
        path = "/" + "/".join(rng.choice(parts) for _ in range(rng.randint(0, 5)))
        roots = ["/" + "/".join(rng.choice(parts) for _ in range(rng.randint(0, 3))) for _ in range(2)]
        by_keys = any(key(posixpath.abspath(path)).startswith(key(r)) for r in roots)
        assert is_inside(path, roots, "posix") == by_keys, (path, roots)
        assert inside_of(roots, "posix")(path) == by_keys, (path, roots)  # the roots prepared once
