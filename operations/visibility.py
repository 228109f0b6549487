"""Would each Codex client list a thread, and if not, every reason why.

Modelled on Codex's own filters (storage doc, sections 0.7 and 4): the IDE and desktop
call app-server `thread/list` with default filters; the terminal picker adds the cwd and
allows only cli and vscode sources; `--all` drops the cwd filter, not the provider one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Codex's file scan walks the dated folders newest first (by the file name's timestamp) and
# stops after 10,000 files, whatever their provider; archived_sessions/ is walked the same way
# on its own. Measured with the real 0.169.0 and 0.171.0 on a 12,000-session home.
SCAN_WINDOW = 10_000
INTERACTIVE_SOURCES = ("cli", "vscode", '{"custom":"atlas"}', '{"custom":"chatgpt"}')
PICKER_SOURCES = ("cli", "vscode")


@dataclass(slots=True)
class Facts:
    """What the filters look at, for one thread, as Codex 0.169 sees it (checked with the binary).

    `in_scan`: a readable rollout for the thread lies where Codex's file scan looks (dated
    folders, archived_sessions/). `row_file`: the row's `rollout_path` exists (None: no row).
    With a metadata filter (a provider list, which clients send by default, a cwd, or a
    source filter done in SQL, as the default interactive one is) Codex returns its scan,
    read-repaired; without one, its database page. `archived` follows the folder the file
    is in, as Codex's read-repair does.
    """

    provider: str
    source: str
    cwd: str
    archived: bool
    empty_preview: bool  # the row's preview is '' (what a database page filters on)
    scan_preview_empty: bool  # the file's head has no user message (what the scan's page shows)
    in_scan: bool
    row_file: bool | None  # the row's rollout_path holds a readable rollout
    file_problem: str | None = None
    scan_rank: int | None = None  # newest-first rank of its file in the folder Codex's scan walks

    @property
    def beyond_window(self) -> bool:
        return self.scan_rank is not None and self.scan_rank > SCAN_WINDOW

    def uses_scan(self, metadata_filter: bool) -> bool:
        return metadata_filter or self.row_file is None

    def listable(self, metadata_filter: bool) -> bool:
        if self.uses_scan(metadata_filter):
            return self.in_scan  # the scan's page; an orphan it finds gets its row read-repaired
        return bool(self.row_file)  # the database page: the row, if its file is where it says

    def window_reason(self, metadata_filter: bool) -> list[Reason]:
        if not (self.uses_scan(metadata_filter) and self.in_scan and self.beyond_window):
            return []
        return [Reason("scan_window", f"scan window: number {self.scan_rank} of the newest files; Codex's file scan "
                       f"stops after {SCAN_WINDOW:,} (resume it by id, or archive old sessions to bring it back into "
                       "view)")]

    def preview_hides(self, metadata_filter: bool) -> bool:
        return self.scan_preview_empty if metadata_filter or self.row_file is None else self.empty_preview

    def judged_by(self, with_cwd: bool) -> tuple[object, ...]:
        """Everything a client's filter reads of these facts: two threads with the same key are
        listed, or hidden for the same reasons, by every client (the audit judges each key once).
        The rank matters only beyond the window, the cwd only to a picker given one."""
        return (self.provider, self.source, self.cwd if with_cwd else None, self.archived, self.empty_preview,
                self.scan_preview_empty, self.in_scan, self.row_file, self.file_problem,
                self.scan_rank if self.beyond_window else None)


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a client does not list a thread: `kind` is a stable code (what summaries count and
    code branches on), `detail` the sentence a person reads."""

    kind: str
    detail: str


# How each kind is named in the reports' `by_reason` counts (kept as they always were).
KIND_LABELS = {"scan_window": "scan window", "empty_preview": "empty preview", "not_archived": "not archived",
               "recent_window": "recent window"}


def label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind)


@dataclass(slots=True)
class Visibility:
    """One client's verdict. Shared by every thread judged alike (see `Facts.judged_by`): never
    changed once made."""

    listed: bool
    reasons: tuple[Reason, ...] = field(default_factory=tuple)
    _json: dict[str, object] | None = field(default=None, compare=False, repr=False)

    def to_json(self) -> dict[str, object]:
        """Made once per verdict, and the same dict each time after: read it, do not change it."""
        if self._json is None:
            self._json = {"listed": self.listed, "reasons": [r.detail for r in self.reasons],
                          "kinds": [r.kind for r in self.reasons]}
        return self._json


EMPTY_PREVIEW = Reason("empty_preview", "empty preview (no user message): never listed")


def _common(f: Facts, current_provider: str) -> list[Reason]:
    """The filters every client applies: a readable file, the provider, archived, a preview."""
    reasons = []
    if not f.listable(metadata_filter=True):
        reasons.append(Reason("file", f"file: {f.file_problem}"))
    reasons += f.window_reason(metadata_filter=True)
    if f.provider != current_provider:
        reasons.append(Reason("provider", f"provider: `{f.provider}` ≠ current `{current_provider}`"))
    if f.archived:
        reasons.append(Reason("archived", "archived"))
    if f.preview_hides(metadata_filter=True):
        reasons.append(EMPTY_PREVIEW)
    return reasons


def thread_list(
    f: Facts,
    current_provider: str,
    *,
    model_providers: list[str] | None = None,
    source_kinds: list[str] | None = None,
    archived: bool = False,
    cwd: str | None = None,
    named_in_included_ids: bool = False,
) -> Visibility:
    """app-server `thread/list` with these params (omitted provider list = the current one).

    `named_in_included_ids`: the request lists this thread in `includedThreadIds` (Codex
    0.171+; 0.169 ignores the parameter). Codex then answers from its indexed metadata, the
    database page, whatever the other filters: a row whose file is not at its `rollout_path`
    is not listed, though the scan would find the file. The caller drops threads not named."""
    reasons: list[Reason] = []
    providers = [current_provider] if model_providers is None else model_providers
    rust_filtered = any(k in ("exec", "appServer") or k.startswith("subAgent") for k in source_kinds or [])
    metadata_filter = (bool(providers) or cwd is not None or not rust_filtered) and not named_in_included_ids
    if not f.listable(metadata_filter):
        reasons.append(Reason("file", f"file: {f.file_problem}"))
    reasons += f.window_reason(metadata_filter)
    if providers and f.provider not in providers:
        reasons.append(Reason("provider", f"provider: `{f.provider}` ≠ current `{current_provider}`"
                              if model_providers is None else f"provider: `{f.provider}` not in {providers}"))
    if f.archived != archived:
        reasons.append(Reason("archived", "archived") if f.archived else Reason("not_archived", "not archived"))
    if f.preview_hides(metadata_filter):
        reasons.append(EMPTY_PREVIEW)
    allowed = list(INTERACTIVE_SOURCES) if not source_kinds else _source_values(source_kinds)
    if f.source not in allowed:
        reasons.append(Reason("source", f"source: `{f.source}` is not an interactive source" if not source_kinds
                              else f"source: `{f.source}` not in {source_kinds}"))
    if cwd is not None and f.cwd != cwd:
        reasons.append(Reason("cwd", f"cwd: `{f.cwd}` ≠ `{cwd}`"))
    return Visibility(not reasons, tuple(reasons))


def _source_values(kinds: list[str]) -> list[str]:
    mapping = {"cli": ["cli"], "vscode": ["vscode"], "exec": ["exec"], "appServer": ["mcp"]}
    values: list[str] = []
    for kind in kinds:
        values += mapping.get(kind, [kind])
    return values


def ide(f: Facts, current_provider: str) -> Visibility:
    """The IDE and desktop clients: `thread/list` with default filters."""
    return thread_list(f, current_provider)


def picker(f: Facts, current_provider: str, cwd: str | None) -> Visibility:
    """`codex resume` run from `cwd`; with cwd None it is `codex resume --all`."""
    reasons = _common(f, current_provider)
    if f.source not in PICKER_SOURCES:
        reasons.append(Reason("source", f"source: `{f.source}` is not cli or vscode (needs --include-non-interactive)"))
    if cwd is not None and f.cwd != cwd:
        reasons.append(Reason("cwd", f"cwd: `{f.cwd}` ≠ `{cwd}`"))
    return Visibility(not reasons, tuple(reasons))
