"""What an audit says, as data: each thread's files, problems and per-client visibility, and
the home's counts and findings; the words for each finding."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from operations.advice import Step
from operations.desktop.report import DesktopReport
from operations.rollouts import Found, Rollout
from operations.schema import StateSchema
from operations.threads import ThreadRow
from operations.visibility import Facts, Visibility

# problems that mean the index and the files disagree (what `audit --check` exits 4 on)
INTEGRITY_PROBLEMS = (
    "disk_not_in_db", "db_not_on_disk", "missing_rollout_path", "duplicate_rollout_id", "archived_mismatch",
    "meta_id_mismatch", "provider_mismatch", "rollout_path_outside_home", "plain_and_zst", "unreadable_file",
    "not_regular_file",
)
PROBLEM_TEXT = {
    "disk_not_in_db": "rollout file with no row in `threads`",
    "active_orphan": "rollout with no row that is live (writer lock held or written in the last minutes); "
                     "never import it",
    "future_mtime": "rollout modified more than 5 minutes in the future of this machine's clock (a copied home or "
                    "a skewed clock): its mtime cannot tell whether it is live, so only Codex's writer lock is "
                    "trusted",
    "scan_window": "older than the newest 10,000 rollout files in its folder: Codex's file scan (every default "
                   "listing) stops there; resume it by id, or archive sessions you no longer need to bring it back "
                   "into view",
    "db_not_on_disk": "row with no rollout file for its id anywhere in this home",
    "missing_rollout_path": "row whose `rollout_path` does not exist (if its file is elsewhere in the dated folders, "
                            "Codex 0.169 still lists it, but resuming it fails: \"no rollout found\")",
    "stale_rollout_path": "row whose file is elsewhere in this home (repair-paths can fix it)",
    "duplicate_rollout_id": "more than one rollout file for one thread id",
    "archived_mismatch": "`archived` flag disagrees with the folder the file is in",
    "meta_id_mismatch": "`session_meta.id` differs from the id in the file name (Codex 0.169 also lists the file "
                        "under the session_meta id)",
    "provider_mismatch": "row's `model_provider` differs from the rollout's (Codex re-reads the rollout)",
    "undefined_provider": "provider not defined in config.toml (Codex cannot resume such threads)",
    "empty_preview": "the row's preview is empty: listings from the database hide it (Codex's file scan still lists "
                     "it when the rollout has a user message)",
    "rollout_path_outside_home": "`rollout_path` points outside this home (a copied or moved home)",
    "plain_and_zst": "both .jsonl and .jsonl.zst exist: Codex reads the .jsonl and ignores the .zst while it exists "
                     "(repairs act on the .jsonl and move the .zst with it)",
    "unreadable_file": "first line is not a readable session_meta",
    "old_format": "pre-September-2025 format: current Codex cannot read it",
    "flat_layout": "old flat layout under sessions/: listing walks only sessions/YYYY/MM/DD",
    "undecodable_row": "the row holds bytes that are not UTF-8 (shown here with U+FFFD); every repair leaves this "
                       "thread alone",
    "malformed_row": "a column of the row holds a value of the wrong type (e.g. text in `archived`); every repair "
                     "leaves this thread alone",
    "not_regular_file": "a FIFO, socket or device named like a rollout: never opened (reading one could wait "
                        "forever), and left alone by every repair",
    "symlinked_rollout": "the rollout is reached through a symlink (a symlinked folder or file): read, but never "
                         "moved, rewritten or forgotten; Codex's file scan does not follow symlinks, so only a "
                         "database listing shows it (resuming a thread in a symlinked folder works)",
}


@dataclass(slots=True)
class ThreadAudit:
    id: str
    row: ThreadRow | None
    files: list[Rollout]
    problems: list[str] = field(default_factory=list)
    facts: Facts | None = None
    ide: Visibility | None = None
    picker_cwd: Visibility | None = None
    picker_all: Visibility | None = None
    desktop: Visibility | None = None
    recency_ms: int = 0
    found_at: str | None = None  # where the file really is, when the row points elsewhere
    skipped: list[Found] = field(default_factory=list)  # its entries that are not files: never read

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "has_row": self.row is not None, "files": [f.path for f in self.files],
            "problems": self.problems,
            "ide": self.ide.to_json() if self.ide else None,
            "picker_all": self.picker_all.to_json() if self.picker_all else None,
        }
        if self.picker_cwd:
            out["picker_cwd"] = self.picker_cwd.to_json()
        if self.desktop:
            out["desktop"] = self.desktop.to_json()
        if self.facts:
            out["provider"], out["cwd"], out["source"] = self.facts.provider, self.facts.cwd, self.facts.source
            out["archived"] = self.facts.archived
        if self.found_at:
            out["found_at"] = self.found_at
        if self.skipped or (self.files and any(f.link for f in self.files)):  # almost never: no sets otherwise
            links = sorted({f.link for f in self.files if f.link} | {f.link for f in self.skipped if f.link})
            if links:
                out["symlinks"] = links
            if self.skipped:
                out["not_read"] = [{"path": f.path, "kind": f.kind} for f in self.skipped]
        return out


@dataclass
class AuditReport:
    codex_dir: str
    sqlite_home: str
    state_db: str | None
    schema: StateSchema | None
    current_provider: str
    defined_providers: tuple[str, ...]
    codex_running: dict[str, Any]
    stale_dbs: tuple[str, ...]
    backfill: dict[str, Any] | None
    counts: dict[str, int]
    distribution: dict[str, dict[str, int]]
    integrity: dict[str, Any]
    formats: dict[str, int]
    locations: dict[str, int]
    problems: dict[str, int]
    visibility: dict[str, Any]
    threads: list[ThreadAudit]
    warnings: list[str]
    cwd_spellings: list[list[str]] = field(default_factory=list)
    suggestions: list[Step] = field(default_factory=list)
    samples: dict[str, list[str]] = field(default_factory=dict)  # per finding, the first threads with it
    skipped: list[Found] = field(default_factory=list)  # entries named like rollouts that are not files
    desktop: DesktopReport | None = None  # the desktop app's layers (operations/desktop/, issue 22)

    @property
    def integrity_problem_count(self) -> int:
        return sum(self.problems.get(code, 0) for code in INTEGRITY_PROBLEMS)
