"""The journal engine stands on its own: it imports nothing from `operations/` and names no
Codex-specific tool, so it can be reused and tested alone."""

from __future__ import annotations

import ast
from pathlib import Path

JOURNAL = Path(__file__).resolve().parents[1] / "journal"


def test_journal_imports_nothing_from_operations() -> None:
    for path in sorted(JOURNAL.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n == "operations" or n.startswith("operations.") for n in names), (path.name, names)


def test_journal_names_no_tool_or_environment_variable() -> None:
    for path in sorted(JOURNAL.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert "codex-sessions" not in text and "CODEX_SESSIONS" not in text, path.name
