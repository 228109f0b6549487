"""Each client's view of a home, summed up (how many hidden, by which kind of reason), and the
same views predicted once a plan's changes are made, by the same model the audit uses."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from operations.audit_model import AuditReport, ThreadAudit
from operations.visibility import Facts, Reason, Visibility, ide, label, picker


class Judge:
    """Sets each thread's facts and every client's verdict on it. 10,000 threads share a few
    dozen distinct sets of what the filters read (`Facts.judged_by`), so each set is judged
    once and its verdicts are shared."""

    def __init__(self, current: str, picker_cwd: str | None) -> None:
        self.current = current
        self.picker_cwd = picker_cwd
        self._seen: dict[tuple[object, ...], tuple[Visibility, Visibility, Visibility | None]] = {}

    def __call__(self, t: ThreadAudit, facts: Facts) -> None:
        t.facts = facts
        if facts.in_scan and facts.beyond_window:
            t.problems.append("scan_window")
        key = facts.judged_by(bool(self.picker_cwd))
        verdicts = self._seen.get(key)
        if verdicts is None:
            verdicts = self._seen[key] = (ide(facts, self.current), picker(facts, self.current, None),
                                          picker(facts, self.current, self.picker_cwd) if self.picker_cwd else None)
        t.ide, t.picker_all, t.picker_cwd = verdicts


def _summary(threads: list[ThreadAudit], pick: Callable[[ThreadAudit], Visibility | None], client: str,
             current: str) -> dict[str, Any]:
    total = len(threads)
    hidden = 0
    verdicts: dict[int, Visibility] = {}  # threads judged alike share one verdict (`Judge`): count each once
    times: Counter[int] = Counter()
    providers: Counter[str] = Counter()
    for t in threads:
        v = pick(t)
        if v is None or v.listed:
            continue
        hidden += 1
        times[id(v)] += 1
        verdicts.setdefault(id(v), v)
        if t.facts and t.facts.provider != current:
            providers[t.facts.provider] += 1
    by_kind: Counter[str] = Counter()  # kinds in the order the threads first show them (ties keep it)
    for key, n in times.items():
        for reason in verdicts[key].reasons:
            by_kind[reason.kind] += n
    parts = []
    for kind, n in by_kind.most_common():
        if kind == "provider":
            detail = ", ".join(f"`{p}`" for p, _ in providers.most_common(3))
            parts.append(f"{n} by provider ({detail} ≠ current `{current}`)")
        else:
            parts.append(f"{n} {label(kind)}")
    text = f"{hidden} of {total} sessions are hidden from {client}"
    text += (": " + ", ".join(parts)) if parts else ""
    if by_kind.get("source"):
        text += " (not interactive, e.g. `codex exec`: `codex resume --include-non-interactive` lists them)"
    return {"client": client, "total": total, "listed": total - hidden, "hidden": hidden,
            "by_reason": {label(k): n for k, n in by_kind.most_common()}, "by_kind": dict(by_kind.most_common()),
            "hidden_providers": dict(providers.most_common()),
            "summary": text}


DESKTOP_WINDOW = 50


def desktop_window(threads: list[ThreadAudit]) -> None:
    """The desktop app shows only the ~50 most recent threads it lists (users' reports, see
    docs/users-and-peers.md "recent 50"; the app itself cannot run here to check)."""
    listed = sorted((t for t in threads if t.ide is not None and t.ide.listed),
                    key=lambda t: (t.recency_ms, t.id), reverse=True)
    rank = {t.id: n for n, t in enumerate(listed, start=1)}
    for t in threads:
        if t.ide is None:
            continue
        if not t.ide.listed:
            t.desktop = t.ide
        elif rank[t.id] > DESKTOP_WINDOW:
            t.desktop = Visibility(False, (Reason("recent_window", f"recent window: number {rank[t.id]} by recency; "
                                                  f"the desktop app loads only the {DESKTOP_WINDOW} most recent (pin "
                                                  "it to keep it in view)"),))
        else:
            t.desktop = Visibility(True, ())


def client_summaries(threads: list[ThreadAudit], current: str, picker_cwd: str | None) -> dict[str, Any]:
    out = {
        "ide": _summary(threads, lambda t: t.ide, "the IDE list (app-server thread/list)", current),
        "desktop": _summary(threads, lambda t: t.desktop, "the desktop app's recent list", current),
        "picker_all": _summary(threads, lambda t: t.picker_all, "`codex resume --all`", current),
    }
    if picker_cwd:
        out["picker_cwd"] = _summary(threads, lambda t: t.picker_cwd, f"`codex resume` in {picker_cwd}", current)
    return out


def predict(report: AuditReport, changes: dict[str, Callable[[Facts], Facts] | None]) -> list[ThreadAudit]:
    """The threads as they will be once `changes` are made (None retires a thread), with each
    client's visibility recomputed by the same model the audit uses."""
    out: list[ThreadAudit] = []
    judge = Judge(report.current_provider, None)
    for t in report.threads:
        if t.id in changes and changes[t.id] is None:
            continue
        copy = ThreadAudit(t.id, t.row, t.files, [p for p in t.problems if p != "scan_window"],
                           recency_ms=t.recency_ms, found_at=t.found_at)
        change = changes.get(t.id)
        if t.facts is not None:
            judge(copy, change(replace(t.facts)) if change else t.facts)
        out.append(copy)
    desktop_window(out)
    return out


def summaries(threads: list[ThreadAudit], current: str) -> dict[str, Any]:
    return client_summaries(threads, current, None)
