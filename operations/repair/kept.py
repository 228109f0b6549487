"""The store of original bytes of the compressed rollouts this tool rewrote: which copies an undo
can still need, and `prune`'s removal of the others.

A `zstd_edit` keeps the compressed file it replaces at `<home>/codex-sessions/staging/originals/
<sha256>` (the journal holds only the digest and size). The undo of an operation in effect puts
those bytes back, so its copy stays; once no operation in effect (or pending a recovery) names a
copy, nothing can need it: an undone edit's redo keeps the bytes again before it rewrites.
`prune` removes only the copies its journal names (one it does not name may be another
journal's).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

from journal.effects import ZstdEdit
from journal.errors import LockHeld
from journal.index import JournalIndex
from journal.platform import try_lock_exclusive, unlock
from journal.store import lock_path, read_lock_holder

DIGEST_NAME = re.compile(r"^[0-9a-f]{64}$")


def named_copies(journal: Path) -> tuple[set[str], set[str]]:
    """(every kept copy this journal's `zstd_edit`s name, those still needed): needed when named by
    the forward edit of an operation in effect or still pending (a crash's: recovery may finish
    it). Real paths."""
    if not journal.exists():
        return set(), set()
    index = JournalIndex.load(str(journal))
    named: set[str] = set()
    needed: set[str] = set()
    for op_id, info in index.ops.items():
        live = info.outcome is None or index.in_effect(op_id)
        for effect in index.effects(op_id):
            if isinstance(effect, ZstdEdit):
                named.add(os.path.realpath(effect.kept))
                if live and not effect.restore:
                    needed.add(os.path.realpath(effect.kept))
    return named, needed


@contextlib.contextmanager
def journal_locked(journal: Path) -> Iterator[None]:
    """The journal's writer lock, so no run keeps a copy while the store is pruned."""
    journal.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(lock_path(str(journal)), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if not try_lock_exclusive(fd):
            raise LockHeld(f"a codex-sessions run is writing this journal{read_lock_holder(str(journal))}; "
                           "prune once it has finished", details={"lock": lock_path(str(journal))})
        try:
            yield
        finally:
            unlock(fd)
    finally:
        os.close(fd)


def prune_kept(journal: Path, store: Path) -> tuple[list[str], list[str]]:
    """(copies kept, copies removed) in `store`, under the journal's lock. Only copies this journal
    names and no longer needs are removed (a copy it does not name may be another journal's), and
    temporary files a crash left there."""
    if not store.is_dir():
        return [], []
    with journal_locked(journal):
        named, needed = named_copies(journal)
        kept, removed = [], []
        for path in sorted(store.iterdir()):
            if not path.is_file() or path.is_symlink():
                continue
            real = os.path.realpath(path)
            stale_temp = path.name.endswith(".journal-tmp")
            if stale_temp or (DIGEST_NAME.match(path.name) and real in named and real not in needed):
                path.unlink()
                removed.append(str(path))
            else:
                kept.append(str(path))
    return kept, removed
