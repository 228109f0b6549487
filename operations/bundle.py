"""A bundle of threads to move between homes and machines: read from a home, written to one zip
file with a manifest that declares every part's sha256 and size.

Per thread: every rollout file (`.jsonl` or `.jsonl.zst`) with its mtime and where it lay
(dated folders or `archived_sessions/`), its `threads` row, its `thread_history` rows if
any, and its `session_index.jsonl` entries. The manifest names the source's Codex version
guess, schema levels and path style. A thread that breaks a rule the import checks
(`bundle_rules.py`) is left out, with the reason; a bundle is read back only through
`bundle_check.py`, which checks every byte before anything is written.

Rollout bytes are never held whole here: a `BundledFile` reads them again, in chunks, from
where they are (the home, or the bundle), each read checked against the size and sha256
known for it.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from journal.codec import sql_to_json
from journal.errors import ToolError, UsageProblem
from journal.fileio import file_digest
from journal.sqlio import connect_ro
from operations.audit_model import AuditReport, ThreadAudit
from operations.bundle_rules import file_name_problem, history_problem, row_problem, thread_id_problem
from operations.errors import BundleRefused
from operations.home import CodexHome
from operations.path_spelling import is_windows_spelling
from operations.repair.rows import current_rows, text_as_audit_reads
from operations.repair.selection import ThreadFilter
from operations.rollouts import Rollout
from operations.shapes import max_migration

FORMAT = "codex-sessions-bundle"
VERSION = 2  # 2: every part's size declared, rows' text as the audit reads it; 1 is still read
CHUNK = 1 << 20
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the manifest holds the real mtimes; a fixed date keeps bundles reproducible


@dataclass(frozen=True)
class BundledFile:
    name: str
    archived: bool
    mtime_ns: int
    size: int
    sha256: str | None  # None until read (export hashes as it writes)
    source: Callable[[], Iterator[bytes]]  # the bytes, again, in chunks

    def chunks(self) -> Iterator[bytes]:
        """The bytes in chunks; a source that no longer holds what was checked is refused midway."""
        digest, total = hashlib.sha256(), 0
        for chunk in self.source():
            total += len(chunk)
            if self.sha256 is not None and total > self.size:
                raise _changed(self.name)
            digest.update(chunk)
            yield chunk
        if self.sha256 is not None and (total != self.size or digest.hexdigest() != self.sha256):
            raise _changed(self.name)

    def read(self) -> bytes:
        return b"".join(self.chunks())


def _changed(name: str) -> BundleRefused:
    return BundleRefused(f"{name} changed since it was checked; nothing more was written",
                         details={"part": name, "rule": "changed_since_check"})


@dataclass
class BundledThread:
    id: str
    row: dict[str, Any]
    files: list[BundledFile]
    history: dict[str, Any] = field(default_factory=dict)  # {"projection_state": row|None, "turns": [rows]}
    index_entries: list[dict[str, Any]] = field(default_factory=list)
    undecodable_columns: list[str] = field(default_factory=list)  # text read as the audit reads it (U+FFFD)


@dataclass
class Bundle:
    source: dict[str, Any]
    threads: list[BundledThread]
    left_out: list[dict[str, str]] = field(default_factory=list)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_chunks(path: str) -> Callable[[], Iterator[bytes]]:
    def chunks() -> Iterator[bytes]:
        with open(path, "rb") as handle:
            while chunk := handle.read(CHUNK):
                yield chunk

    return chunks


def collect(report: AuditReport, flt: ThreadFilter, home: CodexHome, *, digests: bool = True) -> Bundle:
    """The chosen threads of an audited home (read-only), each one checked by the rules an import
    checks; one that breaks a rule is left out with the reason. `digests`: hash every file now
    (a merge stages them later, checked against these); export hashes as it writes instead."""
    chosen = [t for t in report.threads if flt.matches(t)]
    rows = current_rows(home, [t.id for t in chosen if t.row is not None])
    history_db = home.thread_history_db
    index = _session_index(Path(report.codex_dir) / "session_index.jsonl")
    history_conn = connect_ro(str(history_db)) if history_db is not None else None
    if history_conn is not None:
        history_conn.text_factory = text_as_audit_reads
    bundle = Bundle(_source(report, history_conn), [])
    try:
        for t in chosen:
            history = history_rows(history_conn, t.id) if history_conn is not None and t.id in rows else None
            reason = _left_out_reason(t, rows.get(t.id), history)
            if reason:
                bundle.left_out.append({"id": t.id, "reason": reason})
                continue
            try:
                bundled = [_bundled(f, digests) for f in t.files if f.location in ("dated", "archived")]
            except OSError as exc:
                bundle.left_out.append({"id": t.id, "reason": f"its rollout cannot be read: {exc}"})
                continue
            bundle.threads.append(BundledThread(
                t.id, rows[t.id], bundled, history or {"projection_state": None, "turns": []},
                index.get(t.id, []), list(t.row.undecodable) if t.row else []))
    finally:
        if history_conn is not None:
            history_conn.close()
    return bundle


def _bundled(f: Rollout, digest: bool) -> BundledFile:
    sha, size = file_digest(f.path) if digest else (None, f.size)
    return BundledFile(os.path.basename(f.path), f.location == "archived", f.mtime_ns, size, sha,
                       file_chunks(f.path))


def _left_out_reason(t: ThreadAudit, row: dict[str, Any] | None, history: dict[str, Any] | None) -> str | None:
    """Why this thread cannot go into a bundle (an import would refuse it), or None."""
    if t.row is None or row is None:
        return "no row in `threads` (import it with `run import-orphans` first)"
    files = [f for f in t.files if f.location in ("dated", "archived")]
    if not files:
        return "no rollout file for it in this home"
    problem = thread_id_problem(t.id)
    names = [os.path.basename(f.path) for f in files]
    if problem is None and len(set(names)) < len(names):
        return f"two rollout files share a name ({', '.join(sorted(names))}); resolve that first"
    for f, name in zip(files, names, strict=True):
        problem = problem or file_name_problem(name, t.id)
        if problem is None and (f.meta is None or f.meta.id != t.id):
            return (f"{name}: its first line is not a session_meta naming this thread "
                    f"({f.format if f.meta is None else 'it names ' + repr(f.meta.id)})")
        if problem is None and not stat.S_ISREG(_mode(f.path)):
            return f"{name} is not a regular file"
    problem = problem or row_problem({k: sql_to_json(v) for k, v in row.items()}, t.id)
    if problem is None and history is not None:
        problem = history_problem(history, t.id)
    return problem.reason if problem else None


def _mode(path: str) -> int:
    try:
        return os.lstat(path).st_mode
    except OSError:
        return 0


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
    if not path.is_file():
        return out
    with open(path, "rb") as handle:
        for line in handle:
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


def check_output(out: Path) -> None:
    """The bundle's path must be a new file in an existing folder (checked before the home is read)."""
    if out.is_dir():
        raise UsageProblem(f"{out} is a folder; give the bundle's file name (e.g. {out / 'moved.zip'})")
    if out.exists() or out.is_symlink():
        raise UsageProblem(f"{out} exists; choose another name (a bundle is never overwritten)")
    if not out.parent.is_dir():
        raise UsageProblem(f"{out.parent} is not an existing folder; create it first, or write the bundle elsewhere")


def write(bundle: Bundle, out: Path) -> dict[str, Any]:
    """The bundle as one zip file, written beside its final name and renamed into place; every
    part is hashed as it is written, and the manifest, written last, declares each one."""
    check_output(out)
    temp = out.with_name(f".{out.name}.partial")
    try:
        handle = open(temp, "xb")  # noqa: SIM115 - closed below, and removed on failure
    except FileExistsError:
        raise UsageProblem(f"{temp} exists (left by an export that stopped?); remove it first") from None
    except OSError as exc:
        raise UsageProblem(f"cannot write {temp}: {exc.strerror or exc}") from None
    try:
        with handle, zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            manifest = _write_parts(bundle, archive)
            _put(archive, "manifest.json", [_json(manifest)], large=False)
        os.replace(temp, out)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise ToolError(f"cannot write {out}: {exc}; nothing was kept") from None
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return manifest


def _write_parts(bundle: Bundle, archive: zipfile.ZipFile) -> dict[str, Any]:
    parts: dict[str, dict[str, Any]] = {}
    threads = []
    for t in bundle.threads:
        base = f"threads/{t.id}"
        json_parts = {"row.json": _row_json(t.row),
                      "history.json": {"projection_state": _row_json(t.history.get("projection_state")),
                                       "turns": [_row_json(r) for r in t.history.get("turns", [])]},
                      "index.json": t.index_entries}
        for name, value in json_parts.items():
            parts[f"{base}/{name}"] = _put(archive, f"{base}/{name}", [_json(value)], large=False)
        files = []
        for f in t.files:
            declared = _put(archive, f"{base}/files/{f.name}", f.chunks(), large=f.size > (1 << 30))
            parts[f"{base}/files/{f.name}"] = declared
            files.append({"name": f.name, "archived": f.archived, "mtime_ns": f.mtime_ns, "size": declared["size"]})
        threads.append({"id": t.id, "files": files, "undecodable_columns": t.undecodable_columns})
    return {"format": FORMAT, "version": VERSION, "source": bundle.source, "threads": threads,
            "left_out": bundle.left_out, "parts": dict(sorted(parts.items()))}


def _put(archive: zipfile.ZipFile, name: str, chunks: Any, *, large: bool) -> dict[str, Any]:
    """One member, streamed in; its sha256 and size as written."""
    info = zipfile.ZipInfo(name, ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = (stat.S_IFREG | 0o644) << 16
    digest, size = hashlib.sha256(), 0
    with archive.open(info, "w", force_zip64=large) as member:
        for chunk in chunks:
            digest.update(chunk)
            size += len(chunk)
            member.write(chunk)
    return {"sha256": digest.hexdigest(), "size": size}
