"""A bundle of threads to move between homes and machines: read from a home, written to one zip
file with a manifest and the sha256 of every part, and read back only when every part checks.

Per thread: every rollout file (`.jsonl` or `.jsonl.zst`) with its mtime and where it lay
(dated folders or `archived_sessions/`), its `threads` row, its `thread_history` rows if
any, and its `session_index.jsonl` entries. The manifest names the source's Codex version
guess, schema levels and path style.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from journal.codec import sql_from_json, sql_to_json
from journal.errors import UsageProblem
from journal.sqlio import connect_ro
from operations.audit import AuditReport
from operations.errors import BundleRefused
from operations.home import CodexHome
from operations.pathrules import is_windows_spelling
from operations.repair.common import ThreadFilter, current_rows
from operations.shapes import known_shapes, max_migration

FORMAT = "codex-sessions-bundle"
VERSION = 1


@dataclass
class BundledFile:
    name: str
    archived: bool
    data: bytes
    mtime_ns: int


@dataclass
class BundledThread:
    id: str
    row: dict[str, Any]
    files: list[BundledFile]
    history: dict[str, Any] = field(default_factory=dict)  # {"projection_state": row|None, "turns": [rows]}
    index_entries: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Bundle:
    source: dict[str, Any]
    threads: list[BundledThread]
    left_out: list[dict[str, str]] = field(default_factory=list)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def collect(report: AuditReport, flt: ThreadFilter, home: CodexHome) -> Bundle:
    """Read the chosen threads of an audited home (read-only)."""
    chosen = [t for t in report.threads if flt.matches(t)]
    rows = current_rows(home, [t.id for t in chosen if t.row is not None])
    history_db = home.thread_history_db
    index = _session_index(Path(report.codex_dir) / "session_index.jsonl")
    history_conn = connect_ro(str(history_db)) if history_db is not None else None
    bundle = Bundle(_source(report, history_conn), [])
    try:
        for t in chosen:
            files = [f for f in t.files if f.location in ("dated", "archived")]
            if t.row is None or t.id not in rows:
                bundle.left_out.append({"id": t.id, "reason": "no row in `threads` (import it with "
                                                              "`run import-orphans` first)"})
                continue
            if not files:
                bundle.left_out.append({"id": t.id, "reason": "no rollout file for it in this home"})
                continue
            if "undecodable_row" in t.problems:
                bundle.left_out.append({"id": t.id, "reason": "its row holds bytes that are not UTF-8"})
                continue
            bundled = [BundledFile(os.path.basename(f.path), f.location == "archived", Path(f.path).read_bytes(),
                                   f.mtime_ns) for f in files]
            thread = BundledThread(t.id, rows[t.id], bundled, index_entries=index.get(t.id, []))
            if history_conn is not None:
                thread.history = history_rows(history_conn, t.id)
            bundle.threads.append(thread)
    finally:
        if history_conn is not None:
            history_conn.close()
    return bundle


def _source(report: AuditReport, history: sqlite3.Connection | None) -> dict[str, Any]:
    schema = report.schema
    return {"codex_home": report.codex_dir, "path_style": "windows" if is_windows_spelling(report.codex_dir)
            else "posix", "codex_version_guess": schema.codex_version_guess if schema else None,
            "state_migration": schema.max_migration if schema else None,
            "history_migration": max_migration(history) if history is not None else None,
            "current_provider": report.current_provider}


def history_rows(conn: sqlite3.Connection, thread_id: str) -> dict[str, Any]:
    out: dict[str, Any] = {"projection_state": None, "turns": []}
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "thread_history_projection_state" in tables:
        cur = conn.execute("SELECT * FROM thread_history_projection_state WHERE thread_id = ?", (thread_id,))
        row = cur.fetchone()
        if row is not None:
            out["projection_state"] = dict(zip([d[0] for d in cur.description], row, strict=True))
    if "thread_turns" in tables:
        cur = conn.execute("SELECT * FROM thread_turns WHERE thread_id = ? ORDER BY rollout_ordinal", (thread_id,))
        names = [d[0] for d in cur.description]
        out["turns"] = [dict(zip(names, r, strict=True)) for r in cur]
    return out


def _session_index(path: Path) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    if not path.exists():
        return out
    for line in path.read_bytes().splitlines():
        try:
            entry = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(entry, dict) and isinstance(entry.get("id"), str):
            out.setdefault(entry["id"], []).append(entry)
    return out


def _json(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2)


def _row_json(row: dict[str, Any] | None) -> Any:
    return None if row is None else {k: sql_to_json(v) for k, v in row.items()}


def write(bundle: Bundle, out: Path) -> dict[str, Any]:
    """The bundle as one zip file, written beside its final name and renamed into place."""
    if out.exists():
        raise UsageProblem(f"{out} exists; choose another name (a bundle is never overwritten)")
    parts: dict[str, bytes] = {}
    threads = []
    for t in bundle.threads:
        base = f"threads/{t.id}"
        parts[f"{base}/row.json"] = _json(_row_json(t.row))
        parts[f"{base}/history.json"] = _json({"projection_state": _row_json(t.history.get("projection_state")),
                                               "turns": [_row_json(r) for r in t.history.get("turns", [])]})
        parts[f"{base}/index.json"] = _json(t.index_entries)
        for f in t.files:
            parts[f"{base}/files/{f.name}"] = f.data
        threads.append({"id": t.id, "files": [{"name": f.name, "archived": f.archived, "mtime_ns": f.mtime_ns,
                                               "size": len(f.data)} for f in t.files]})
    manifest = {"format": FORMAT, "version": VERSION, "source": bundle.source, "threads": threads,
                "left_out": bundle.left_out, "parts": {name: sha256(data) for name, data in sorted(parts.items())}}
    temp = out.with_name(f".{out.name}.partial")
    with zipfile.ZipFile(temp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", _json(manifest))
        for name, data in sorted(parts.items()):
            archive.writestr(name, data)
    os.replace(temp, out)
    return manifest


def read(path: Path) -> Bundle:
    """The bundle in `path`, every part checked against the manifest's sha256 first."""
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise BundleRefused(f"{path} is not a readable bundle ({exc}); nothing was written") from None
    with archive:
        try:
            manifest = orjson.loads(archive.read("manifest.json"))
            parts = {name: archive.read(name) for name in archive.namelist() if name != "manifest.json"}
        except (KeyError, orjson.JSONDecodeError, zipfile.BadZipFile, OSError) as exc:
            raise BundleRefused(f"{path}: its manifest or a part cannot be read ({exc}); nothing was written") from None
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise BundleRefused(f"{path} is not a {FORMAT} of version {VERSION}; nothing was written")
    expected: dict[str, str] = manifest.get("parts", {})
    for name in sorted(set(expected) | set(parts)):
        if name not in parts or name not in expected or sha256(parts[name]) != expected[name]:
            raise BundleRefused(f"{path}: part {name} fails its sha256 (the bundle is damaged or was changed); "
                          "nothing was written", details={"part": name})
    _check_schema(path, parts, manifest)
    threads = []
    for entry in manifest["threads"]:
        base = f"threads/{entry['id']}"
        row = {k: sql_from_json(v) for k, v in orjson.loads(parts[f"{base}/row.json"]).items()}
        history = orjson.loads(parts[f"{base}/history.json"])
        history = {"projection_state": _decoded(history.get("projection_state")),
                   "turns": [_decoded(r) for r in history.get("turns", [])]}
        files = [BundledFile(f["name"], bool(f["archived"]), parts[f"{base}/files/{f['name']}"], int(f["mtime_ns"]))
                 for f in entry["files"]]
        threads.append(BundledThread(entry["id"], row, files, history, orjson.loads(parts[f"{base}/index.json"])))
    return Bundle(manifest["source"], threads, manifest.get("left_out", []))


def _decoded(row: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if row is None else {k: sql_from_json(v) for k, v in row.items()}


def _check_schema(path: Path, parts: dict[str, bytes], manifest: dict[str, Any]) -> None:
    """Refuse rows with a column no known Codex release's `threads` has."""
    known: set[str] = set()
    for shape in known_shapes()["databases"]["state_5.sqlite"]["tables"]["threads"]:
        known |= {c[0] for c in shape["shape"]["columns"]}
    for entry in manifest.get("threads", []):
        row = orjson.loads(parts[f"threads/{entry['id']}/row.json"])
        unknown = sorted(set(row) - known)
        if unknown:
            raise BundleRefused(f"{path}: thread {entry['id']} has `threads` columns no known Codex release has "
                          f"({', '.join(unknown)}); nothing was written", details={"columns": unknown})
