"""Would each Codex client list a thread, and if not, every reason why.

Modelled on Codex's own filters (storage doc, sections 0.7 and 4): the IDE and desktop
call app-server `thread/list` with default filters; the terminal picker adds the cwd and
allows only cli and vscode sources; `--all` drops the cwd filter, not the provider one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

INTERACTIVE_SOURCES = ("cli", "vscode", '{"custom":"atlas"}', '{"custom":"chatgpt"}')
PICKER_SOURCES = ("cli", "vscode")


@dataclass(frozen=True)
class Facts:
    """What the filters look at, for one thread, as Codex would see it."""

    provider: str
    source: str
    cwd: str
    archived: bool
    empty_preview: bool
    listable_file: bool  # the file is where Codex looks and its first line is readable
    file_problem: str | None = None


@dataclass(frozen=True)
class Visibility:
    listed: bool
    reasons: tuple[str, ...] = field(default_factory=tuple)


def _common(f: Facts, current_provider: str) -> list[str]:
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


def ide(f: Facts, current_provider: str) -> Visibility:
    reasons = _common(f, current_provider)
    if f.source not in INTERACTIVE_SOURCES:
        reasons.append(f"source: `{f.source}` is not an interactive source")
    return Visibility(not reasons, tuple(reasons))


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
