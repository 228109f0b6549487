"""The audit judges each distinct set of facts once (`Judge`, `Facts.judged_by`): what it
hands every thread must be exactly what each client's filter says of that thread's own facts."""

from __future__ import annotations

import random

from operations.audit_model import ThreadAudit
from operations.audit_summary import Judge
from operations.visibility import SCAN_WINDOW, Facts, ide, picker


def _facts(rng: random.Random) -> Facts:
    return Facts(
        provider=rng.choice(["openai", "azure", "x"]), source=rng.choice(["cli", "vscode", "exec", '{"subagent":1}']),
        cwd=rng.choice(["/a", "/b", ""]), archived=rng.random() < 0.3, empty_preview=rng.random() < 0.2,
        scan_preview_empty=rng.random() < 0.2, in_scan=rng.random() < 0.8,
        row_file=rng.choice([True, False, None]), file_problem=rng.choice([None, "flat layout", "unreadable"]),
        scan_rank=rng.choice([None, 1, 17, SCAN_WINDOW, SCAN_WINDOW + 1, SCAN_WINDOW + rng.randint(2, 5000)]),
    )


def test_shared_verdicts_are_each_threads_own() -> None:
    rng = random.Random(5)
    for picker_cwd in (None, "/a"):
        judge = Judge("openai", picker_cwd)
        threads = []
        for n in range(4000):
            facts = _facts(rng)
            t = ThreadAudit(f"t{n}", None, [])
            judge(t, facts)
            threads.append(t)
            assert t.facts is facts
            assert t.ide == ide(facts, "openai")
            assert t.picker_all == picker(facts, "openai", None)
            assert t.picker_cwd == (picker(facts, "openai", picker_cwd) if picker_cwd else None)
            assert ("scan_window" in t.problems) == bool(facts.in_scan and facts.beyond_window)
            assert t.ide is not None and t.ide.to_json() == {
                "listed": t.ide.listed, "reasons": [r.detail for r in t.ide.reasons],
                "kinds": [r.kind for r in t.ide.reasons]}
        keys = {t.facts.judged_by(bool(picker_cwd)) for t in threads if t.facts is not None}
        assert len({id(t.ide) for t in threads}) == len(keys) < len(threads)  # one verdict per distinct key
