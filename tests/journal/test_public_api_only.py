"""These tests reach the engine through its front door alone: `import journal` or `from journal
import NAME`, never a module inside it, so what they prove holds for any caller of the API."""

from __future__ import annotations

import ast
import contextlib
from pathlib import Path

import journal

HERE = Path(__file__).resolve().parent


def _journal_imports(source: str) -> list[str]:
    """Every import of the engine in a program, as written (`journal`, `journal.store`, ...),
    including the programs it hands to a child interpreter (string constants that parse as Python)."""
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names if a.name.split(".")[0] == "journal"]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "journal":
            names.append(node.module or "")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "import" in node.value:
            with contextlib.suppress(SyntaxError):  # text, not a program
                names += _journal_imports(node.value)
    return names


def test_every_test_module_imports_the_package_and_nothing_inside_it() -> None:
    modules = sorted(p for p in HERE.glob("*.py") if p.name != Path(__file__).name)  # this one's strings are examples
    assert len(modules) >= 5
    imports = {p.name: _journal_imports(p.read_text(encoding="utf-8")) for p in modules}
    assert imports["test_damage.py"].count("journal") >= 2  # its own, and the lock holder's program
    inside = {name: [n for n in found if n != "journal"] for name, found in imports.items()}
    assert all(not names for names in inside.values()), inside
    assert _journal_imports("from journal.store import JournalWriter") == ["journal.store"]  # the check sees it


def test_what_the_package_exports_is_there() -> None:
    missing = [name for name in journal.__all__ if not hasattr(journal, name)]
    assert not missing
    for verb in ("open_writer", "open_reader", "plan", "run", "undo", "redo", "replay", "recover", "log", "verify",
                 "require_journal", "show"):
        assert callable(getattr(journal, verb)), verb
