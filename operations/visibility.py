"""Would each Codex client list a thread, and if not, every reason why.

Modelled on Codex's own filters (storage doc, sections 0.7 and 4): the IDE and desktop
call app-server `thread/list` with default filters; the terminal picker adds the cwd and
allows only cli and vscode sources; `--all` drops the cwd filter, not the provider one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

INTERACTIVE_SOURCES = ("cli", "vscode", '{"custom":"atlas"}', '{"custom":"chatgpt"}')
PICKER_SOURCES = ("cli", "vscode")


@dataclass(slots=True)
class Facts:
    """What the filters look at, for one thread, as Codex would see it."""

    provider: str
    source: str
    cwd: str
    archived: bool
    empty_preview: bool
    listable_file: bool  # the file is where Codex looks and its first line is readable
    file_problem: str | None = None


@dataclass(slots=True)
class Visibility:
    listed: bool
    reasons: tuple[str, ...] = field(default_factory=tuple)


def _common(f: Facts, current_provider: str) -> list[str]:
    """The filters every client applies: a readable file, the provider, archived, a preview."""
    reasons = []
    if not f.listable_file:
        reasons.append(f"file: {f.file_problem}")
    if f.provider != current_provider:
        reasons.append(f"provider: `{f.provider}` ≠ current `{current_provider}`")
    if f.archived:
        reasons.append("archived")
    if f.empty_preview:
        reasons.append("empty preview (no user message): never listed")
    return reasons


def thread_list(
    f: Facts,
    current_provider: str,
    *,
    model_providers: list[str] | None = None,
    source_kinds: list[str] | None = None,
    archived: bool = False,
    cwd: str | None = None,
) -> Visibility:
    """app-server `thread/list` with these params (omitted provider list = the current one)."""
    reasons = []
    if not f.listable_file:
        reasons.append(f"file: {f.file_problem}")
    providers = [current_provider] if model_providers is None else model_providers
    if providers and f.provider not in providers:
        reasons.append(f"provider: `{f.provider}` ≠ current `{current_provider}`" if model_providers is None
                       else f"provider: `{f.provider}` not in {providers}")
    if f.archived != archived:
        reasons.append("archived" if f.archived else "not archived")
    if f.empty_preview:
        reasons.append("empty preview (no user message): never listed")
    allowed = list(INTERACTIVE_SOURCES) if not source_kinds else _source_values(source_kinds)
    if f.source not in allowed:
        reasons.append(f"source: `{f.source}` is not an interactive source" if not source_kinds
                       else f"source: `{f.source}` not in {source_kinds}")
    if cwd is not None and f.cwd != cwd:
        reasons.append(f"cwd: `{f.cwd}` ≠ `{cwd}`")
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
        reasons.append(f"source: `{f.source}` is not cli or vscode (needs --include-non-interactive)")
    if cwd is not None and f.cwd != cwd:
        reasons.append(f"cwd: `{f.cwd}` ≠ `{cwd}`")
    return Visibility(not reasons, tuple(reasons))


def reason_kind(reason: str) -> str:
    return reason.split(":", 1)[0].split(" (", 1)[0]
