"""The journal engine stands on its own: no module of `journal/` or of any of its sub-packages
imports `operations/`, or names Codex, its files, this tool or its command line, so it can be
reused and tested alone (`tests/journal/` runs its tests where `operations` cannot be imported)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

JOURNAL = Path(__file__).resolve().parents[1] / "journal"
MODULES = sorted(JOURNAL.rglob("*.py"))
# Codex's words, this tool's name, and a command line's (an option such as `--apply`, "CLI")
FORBIDDEN_WORDS = re.compile(r"codex|rollout|thread_id|CODEX_SESSIONS|\bCLI\b|typer|(?<![\w-])--[a-z]",
                             re.IGNORECASE)


def test_every_sub_package_is_covered() -> None:
    packages = {p.parent for p in MODULES}
    assert JOURNAL / "effects" in packages and len(MODULES) > 25
    assert all((package / "__init__.py").exists() for package in packages)


def test_journal_imports_nothing_from_operations() -> None:
    for path in MODULES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n == "operations" or n.startswith("operations.") for n in names), (path, names)


def test_journal_names_no_codex_no_tool_and_no_command_line() -> None:
    found = []
    for path in MODULES:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for match in FORBIDDEN_WORDS.finditer(line):
                found.append(f"{path.relative_to(JOURNAL.parent)}:{number}: {match.group()!r} in {line.strip()}")
    assert not found, "\n".join(found)


def test_the_word_check_catches_what_it_is_for() -> None:
    for line in ("Codex touches it", "a rollout file", "codex-sessions undo", "use --force", "the CLI maps",
                 "a thread_id", "CODEX_SESSIONS_HOME"):
        assert FORBIDDEN_WORDS.search(line), line
    for line in ("a row's key", "the caller's gate", "x--y", "threading.Thread(target=watch)"):
        assert not FORBIDDEN_WORDS.search(line), line


def test_the_journal_api_is_exported_and_loaded_only_when_first_used() -> None:
    """Every name in `journal.__all__` resolves; importing one engine module (as every command
    does for its errors) does not load the whole API, which cost each command about 0.2 s."""
    import subprocess
    import sys

    import journal

    assert len(journal.__all__) > 60
    for name in journal.__all__:
        assert getattr(journal, name) is not None, name
    probe = ("import sys, journal.errors; print('journal.api' in sys.modules, 'journal.runner' in sys.modules); "
             "from journal import undo, PlannedOp; print('journal.api' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False", "True"], out
