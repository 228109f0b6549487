"""One run's database connections and how its writes are made durable."""

from __future__ import annotations

import contextlib
import os
import sqlite3

from journal import faults
from journal.platform import HAS_SYNCFS, fsync_dir, syncfs
from journal.sqlio import connect_rw


class IOContext:
    """Connections and durability for one run.

    One connection per database for the whole run (opening one re-parses the schema each
    time), with `synchronous=NORMAL`, as WAL databases are usually written. With `deferred_sync`, file
    and directory syncs are collected and made at once by `flush()` (one syncfs per file
    system), which the runner calls before it makes the batch's outcomes durable.

    With `deferred_sync`, each database also gets one write transaction per batch (opened at
    its first step, committed by `flush()`), and each step runs in a savepoint of it: an
    operation's row changes are still all or nothing, and a batch commits once instead of
    once per operation (each commit appends the pages it touched to the WAL again). A crash
    before the commit leaves the batch's rows at `before` and its files at `after`: `recover`
    sees the mix and completes the operations, as it does for any interrupted one.
    """

    def __init__(self, *, deferred_sync: bool = False) -> None:
        self.deferred_sync = deferred_sync
        self._conns: dict[str, sqlite3.Connection] = {}
        self._dirty: set[str] = set()
        self._open: set[str] = set()  # databases with this batch's transaction open

    def transaction(self, db: str) -> sqlite3.Connection | None:
        """The batch's open transaction on `db` (begun now if need be), or None when this
        context commits every step on its own."""
        if not self.deferred_sync:
            return None
        conn = self.conn(db)
        if db not in self._open:
            conn.execute("BEGIN IMMEDIATE")
            self._open.add(db)
        return conn

    def commit(self) -> None:
        """Commit every batch transaction (before anything reports the batch's effects)."""
        for db in sorted(self._open):
            faults.point("commit", db)
            self._conns[db].execute("COMMIT")
            self._open.discard(db)
        self._open.clear()

    def conn(self, db: str) -> sqlite3.Connection:
        conn = self._conns.get(db)
        if conn is None:
            conn = connect_rw(db)
            # NORMAL leaves the WAL to the syncfs in flush(); without syncfs each
            # commit must sync the WAL itself
            conn.execute("PRAGMA synchronous = " + ("NORMAL" if HAS_SYNCFS else "FULL"))
            self._conns[db] = conn
        return conn

    def sync_file(self, fd: int, path: str) -> None:
        if self.deferred_sync and HAS_SYNCFS:
            self._dirty.add(os.path.dirname(path))
        else:
            faults.point("fsync", path)
            os.fsync(fd)  # no syncfs to defer to: this file's own fsync, now

    def sync_dir(self, path: str) -> None:
        if self.deferred_sync:
            self._dirty.add(path)
        else:
            faults.point("fsync_dir", path)
            fsync_dir(path)

    def flush(self) -> None:
        """Make every deferred write durable: one syncfs per file system touched (Linux), or
        each touched folder's fsync where files were already synced one by one."""
        self.commit()
        dirty = set(self._dirty) | {os.path.dirname(db) for db in self._conns}
        self._dirty.clear()
        seen: set[int] = set()
        for folder in sorted(dirty):
            try:
                dev = os.stat(folder).st_dev
            except OSError:
                continue
            if not HAS_SYNCFS:
                faults.point("fsync_dir", folder)
                fsync_dir(folder)
            elif dev not in seen:
                seen.add(dev)
                faults.point("syncfs", folder)
                syncfs(folder)

    def rollback(self) -> None:
        """Give up the batch's open transactions (an error ended it; what is not committed did
        not happen). Never fails on its own: SQLite may already have rolled one back (a full
        disk ends the transaction), and the error that brought us here is the one to report."""
        for db in sorted(self._open):
            conn = self._conns[db]
            try:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # the transaction is gone with the connection, closed next
        self._open.clear()

    def close(self) -> None:
        self.rollback()
        for conn in self._conns.values():
            with contextlib.suppress(sqlite3.Error):
                conn.close()
        self._conns.clear()
