"""export, import, merge on generated homes: checked before writing, journaled, undone byte for byte."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pytest

from fixtures.generator import BuiltHome, HomeSpec, build_home
from tests.bundles import tree
from tests.codexhome import audit, row, snapshot, undo
from tests.helpers import cli_json


def _homes(tmp_path: Path) -> tuple[BuiltHome, BuiltHome]:
    source = build_home(tmp_path / "source", HomeSpec(version="0.169.0", sessions=6, providers=("openai",),
                                                      archived_share=0.3, exec_share=0.0, turns=2, seed=21))
    target = build_home(tmp_path / "target", HomeSpec(version="0.171.0", sessions=3, providers=("azure",),
                                                      archived_share=0.0, exec_share=0.0, seed=22))
    return source, target


def _exported(tmp_path: Path, source: BuiltHome) -> dict[str, bytes]:
    """The parts of a bundle exported from `source`, by name (the manifest included)."""
    bundle = tmp_path / "moved.zip"
    assert cli_json("export", "-o", str(bundle), "--codex-home", str(source.root))[0] == 0
    with zipfile.ZipFile(bundle) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _zipped(path: Path, parts: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return path


def test_export_then_import_under_another_provider_and_folder(tmp_path: Path) -> None:
    source, target = _homes(tmp_path)
    source_before = snapshot(source.root)
    bundle = tmp_path / "moved.zip"
    code, exported = cli_json("export", "-o", str(bundle), "--codex-home", str(source.root))
    assert code == 0 and exported["data"]["threads"] == 6 and bundle.exists()
    assert snapshot(source.root) == source_before  # export is read-only
    before = snapshot(target.root)
    old_cwd = next(iter(source.sessions.values())).cwd
    args = ["import", str(bundle), "--to-provider", "azure", "--from-folder", old_cwd, "--to-folder", "/work/renamed",
            "--codex-home", str(target.root)]
    code, dry = cli_json(*args)
    assert code == 0 and len(dry["data"]["plan"]["operations"]) == 6 and snapshot(target.root) == before
    code, applied = cli_json(*args, "--apply")
    assert code == 0 and applied["data"]["counts"]["applied"] == 6, applied
    report = audit(target.root)
    assert report["integrity_problem_count"] == 0 and report["counts"]["threads_total"] == 9
    for s in source.sessions.values():
        imported = row(target.root, s.id)
        assert imported is not None and imported["model_provider"] == "azure"
        assert imported["cwd"] == ("/work/renamed" if s.cwd == old_cwd else s.cwd)
        path = Path(imported["rollout_path"])
        assert path.is_relative_to(target.root) and path.stat().st_mtime_ns == s.mtime_ns  # mtime kept
        assert b'"model_provider":"azure"' in path.read_bytes().split(b"\n", 1)[0]
    code, again = cli_json(*args, "--apply")  # a second import changes nothing
    assert code == 0 and again["data"]["plan"]["operations"] == [] and len(again["data"]["skipped"]) == 6
    code, undone = undo(target.root, applied["data"]["run"])
    assert code == 0, undone
    assert snapshot(target.root) == before  # byte for byte, mtimes and rows


def test_a_bundle_with_one_byte_changed_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    source, target = _homes(tmp_path)
    parts = _exported(tmp_path, source)
    victim = next(name for name in parts if "/files/" in name)
    parts[victim] = parts[victim].replace(b"openai", b"openaj", 1)  # one byte, and a valid zip around it
    tampered = _zipped(tmp_path / "tampered.zip", parts)
    before = snapshot(target.root)
    for extra in ([], ["--apply"]):
        code, data = cli_json("import", str(tampered), "--codex-home", str(target.root), *extra)
        assert code == 3 and data["errors"][0]["code"] == "bundle_refused", data
        assert "fails its sha256" in data["errors"][0]["message"] and victim in data["errors"][0]["message"]
    assert snapshot(target.root) == before
    assert not (target.root / "codex-sessions").exists()  # not even a journal or a staging folder


def test_merge_reports_conflicts_and_replace_is_undoable(tmp_path: Path) -> None:
    source, target = _homes(tmp_path)
    code, first = cli_json("merge", "--from-home", str(source.root), "--apply", "--codex-home", str(target.root))
    assert code == 0 and first["data"]["counts"]["applied"] == 6, first
    changed = next(s for s in source.sessions.values() if not s.archived)
    with open(changed.path, "ab") as handle:  # the source goes on: a turn appended there
        handle.write(b'{"timestamp":"2026-11-25T00:00:00Z","type":"event_msg","payload":{"type":"note"}}\n')
    before = snapshot(target.root)
    code, conflicted = cli_json("merge", "--from-home", str(source.root), "--apply", "--codex-home", str(target.root))
    assert [c["thread"] for c in conflicted["data"]["conflicts"]] == [changed.id]
    assert len(conflicted["data"]["skipped"]) == 5 and code == 3  # nothing else to do, one conflict
    assert snapshot(target.root) == before
    code, replaced = cli_json("merge", "--from-home", str(source.root), "--replace", "--apply",
                              "--codex-home", str(target.root))
    assert code == 0 and replaced["data"]["counts"]["applied"] == 1, replaced["data"]["operations"]
    here = Path(row(target.root, changed.id)["rollout_path"])  # type: ignore[index]
    assert here.read_bytes() == changed.path.read_bytes()
    code, undone = undo(target.root, replaced["data"]["run"])
    assert code == 0 and snapshot(target.root) == before


def test_a_bundle_with_an_unknown_schema_is_refused(tmp_path: Path) -> None:
    import hashlib

    import orjson

    source, target = _homes(tmp_path)
    parts = _exported(tmp_path, source)
    manifest = orjson.loads(parts["manifest.json"])
    name = next(n for n in parts if n.endswith("/row.json"))
    row_data = orjson.loads(parts[name])
    row_data["mood_from_the_future"] = "curious"  # a column no known Codex release has
    parts[name] = orjson.dumps(row_data)
    manifest["parts"][name] = {"sha256": hashlib.sha256(parts[name]).hexdigest(),  # consistent, so only
                               "size": len(parts[name])}  # the schema is wrong
    parts["manifest.json"] = orjson.dumps(manifest)
    newer = _zipped(tmp_path / "newer.zip", parts)
    before = snapshot(target.root)
    code, data = cli_json("import", str(newer), "--apply", "--codex-home", str(target.root))
    assert code == 3 and data["errors"][0]["code"] == "bundle_refused", data
    assert "mood_from_the_future" in data["errors"][0]["message"]
    assert snapshot(target.root) == before


@pytest.mark.posix
def test_import_is_refused_while_codex_runs_in_the_target(tmp_path: Path) -> None:
    import fcntl
    import os

    source, target = _homes(tmp_path)
    lock = target.root / "thread-writer-locks" / f"{next(iter(target.sessions))}.lock"
    lock.parent.mkdir()
    lock.touch()
    before = snapshot(target.root)
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        code, data = cli_json("merge", "--from-home", str(source.root), "--apply", "--codex-home", str(target.root))
    finally:
        os.close(fd)
    assert code == 3 and data["errors"][0]["code"] == "codex_running", data
    assert snapshot(target.root) == before
    assert not (target.root / "codex-sessions" / "staging").exists()  # nothing staged either


def test_a_row_that_is_not_utf8_is_exported_and_merged_as_the_audit_reads_it(tmp_path: Path) -> None:
    """Such a row never blocks the home (docs/commands.md): export and merge carry the thread with the row's
    text as the audit reads it (U+FFFD for the bad bytes), say so, and leave the source alone."""
    import sqlite3

    source, target = _homes(tmp_path)
    bad = sorted(source.sessions)[0]
    conn = sqlite3.connect(source.root / "state_5.sqlite")
    conn.execute("UPDATE threads SET title = CAST(X'6669782074686520ff2074657374' AS TEXT) WHERE id = ?", (bad,))
    conn.commit()
    conn.close()
    assert "undecodable_row" in next(t for t in audit(source.root)["threads"] if t["id"] == bad)["problems"]
    def files(home: Path) -> dict[str, Any]:  # bytes and mtimes (the row cannot be read as text), less the
        return {k: v for k, v in tree(home).items()  # -shm and empty -wal SQLite makes for a reader
                if v[0] == "file" and not k.endswith(("-shm", "-wal"))}

    source_before = files(source.root)
    bundle = tmp_path / "moved.zip"
    code, exported = cli_json("export", "-o", str(bundle), "--codex-home", str(source.root))
    assert code == 0 and exported["data"]["threads"] == 6, exported
    assert exported["data"]["undecodable"] == [{"id": bad, "columns": ["title"]}]
    code, applied = cli_json("import", str(bundle), "--apply", "--codex-home", str(target.root))
    assert code == 0 and applied["data"]["counts"]["applied"] == 6, applied
    assert any("not UTF-8" in w and bad in w for w in applied["data"]["plan"]["warnings"])
    assert row(target.root, bad)["title"] == "fix the \ufffd test"  # type: ignore[index]
    merged = build_home(tmp_path / "merged", HomeSpec(version="0.171.0", sessions=3, providers=("azure",),
                                                      archived_share=0.0, exec_share=0.0, seed=22))
    code, data = cli_json("merge", "--from-home", str(source.root), "--apply", "--codex-home", str(merged.root))
    assert code == 0 and data["data"]["counts"]["applied"] == 6, data
    assert row(merged.root, bad)["title"] == "fix the \ufffd test"  # type: ignore[index]
    assert files(source.root) == source_before
    for home in (target.root, merged.root):
        assert audit(home)["integrity_problem_count"] == 0


def test_export_to_a_missing_folder_or_onto_a_folder_or_a_file_is_a_usage_error(tmp_path: Path) -> None:
    from tests.helpers import cli

    source = build_home(tmp_path / "source", HomeSpec(version="0.169.0", sessions=2, seed=3))
    existing = tmp_path / "taken.zip"
    existing.write_bytes(b"mine")
    for out, says in ((tmp_path / "missing" / "x.zip", "not an existing folder"), (tmp_path, "is a folder"),
                      (existing, "exists")):
        code, data = cli_json("export", "-o", str(out), "--codex-home", str(source.root))
        assert code == 2 and data["errors"][0]["code"] == "usage" and says in data["errors"][0]["message"], data
        result = cli("export", "-o", str(out), "--codex-home", str(source.root))
        assert result.exit_code == 2 and isinstance(result.exception, SystemExit) and says in result.stderr
    assert existing.read_bytes() == b"mine" and not (tmp_path / "missing").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["source", "taken.zip"]  # no partial file left


def test_a_compressed_rollout_is_rewritten_in_its_content_when_the_import_must_rewrite_it(tmp_path: Path) -> None:
    """A `.jsonl.zst` beside its `.jsonl` travels whole; with --to-provider both are rewritten (the
    compressed one in its decompressed content, compressed again) and the thread is imported."""
    import zstandard

    source = build_home(tmp_path / "source", HomeSpec(version="0.169.0", sessions=3, providers=("openai",),
                                                      exec_share=0.0, seed=5, damage={"plain_and_zst": 1}))
    _, target = _homes(tmp_path / "t")
    bundle = tmp_path / "moved.zip"
    assert cli_json("export", "-o", str(bundle), "--codex-home", str(source.root))[0] == 0
    code, data = cli_json("import", str(bundle), "--to-provider", "azure", "--apply", "--codex-home", str(target.root))
    assert code == 0 and data["data"]["plan"]["refused"] == [] and data["data"]["counts"]["applied"] == 3, data
    [pair] = source.truth["plain_and_zst"]
    [compressed] = list(target.root.rglob(f"*{pair}.jsonl.zst"))
    content = zstandard.ZstdDecompressor().stream_reader(compressed.read_bytes()).read()
    assert b'"model_provider":"azure"' in content.split(b"\n", 1)[0] and b'"openai"' not in content.split(b"\n", 1)[0]


def test_a_thread_whose_row_here_is_not_utf8_is_never_replaced(tmp_path: Path) -> None:
    import sqlite3

    source, target = _homes(tmp_path)
    code, first = cli_json("merge", "--from-home", str(source.root), "--apply", "--codex-home", str(target.root))
    assert code == 0 and first["data"]["counts"]["applied"] == 6, first
    changed = next(s for s in source.sessions.values() if not s.archived)
    with open(changed.path, "ab") as handle:  # the source goes on, so the thread here is a conflict
        handle.write(b'{"timestamp":"2026-11-25T00:00:00Z","type":"event_msg","payload":{"type":"note"}}\n')
    conn = sqlite3.connect(target.root / "state_5.sqlite")
    conn.execute("UPDATE threads SET title = CAST(X'ff' AS TEXT) WHERE id = ?", (changed.id,))
    conn.commit()
    conn.close()
    before = tree(target.root / "sessions")
    code, data = cli_json("merge", "--from-home", str(source.root), "--replace", "--apply",
                          "--codex-home", str(target.root))
    refused = {r["thread"]: r["reason"] for r in data["data"]["plan"]["refused"]}
    assert code == 3 and "not UTF-8" in refused[changed.id], data
    assert tree(target.root / "sessions") == before
