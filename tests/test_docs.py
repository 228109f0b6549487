"""The README is a short front page and docs/ the reference; both stay true to the code.

Checked against the code itself: CI runs exactly the README's test command; every command,
subcommand and option of the CLI (built by typer, as a user meets it) is documented; every
exit code and every `--json` error code is in docs/exit-codes.md; every link between the
files resolves, to a file and to a heading."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer.main

import operations.errors  # noqa: F401  (defines the Codex-specific ToolError subclasses)
from journal.errors import ToolError
from operations.cli import exit_codes
from operations.cli.app import app

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
# written by other work of issue 21 at the same time; the README links to them already
FRONT_PAGE_LINES = 200  # a newcomer reads it in five minutes


def code_blocks(text: str) -> list[str]:
    return re.findall(r"^```[a-z]*\n(.*?)^```", text, flags=re.M | re.S)


def doc_text() -> str:
    return "\n".join(p.read_text() for p in sorted(DOCS.glob("*.md")))


def commands(cmd: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, cmd
    for name, sub in sorted(getattr(cmd, "commands", {}).items()):
        yield from commands(sub, (*path, name))


def test_ci_runs_exactly_the_readmes_test_command():
    first_block = code_blocks(README.read_text())[0]
    test_line = next(line for line in first_block.splitlines() if "whole suite" in line)
    readme_command = shlex.split(test_line, comments=True)
    ci_lines = [line for line in (ROOT / ".ci/run").read_text().splitlines()
                if line.strip() and not line.startswith(("#", "set ", "cd "))]
    assert [shlex.split(line) for line in ci_lines] == [["bash", *readme_command]]
    assert (ROOT / readme_command[0]).is_file()


def test_readme_is_a_short_front_page_that_points_to_the_reference():
    text = README.read_text()
    assert len(text.splitlines()) <= FRONT_PAGE_LINES
    for section in ("## Getting your sessions back", "## Undo", "## Where to read more"):
        assert section in text
    linked = set(re.findall(r"\]\((docs/[^)#]+)", text))
    assert {f"docs/{p.name}" for p in DOCS.glob("*.md")} <= linked  # every reference file is reachable
    assert {"docs/adding-an-operation.md", "docs/journal-api.md"} <= linked


def test_every_command_and_option_is_documented():
    root = typer.main.get_command(app)
    reference, everything, readme = (DOCS / "commands.md").read_text(), doc_text(), README.read_text()
    found = list(commands(root))
    assert len(found) > 20  # the walk reached the subcommands (run's operations, skill's)
    for path, cmd in found:
        if path:
            assert f"`{path[-1]}" in reference or f"`{' '.join(path)}" in reference, path
        if len(path) == 1:
            assert f"`{path[0]}" in readme, f"{path[0]} is missing from the README's commands at a glance"
        for param in cmd.params:
            for option in param.opts:
                if option.startswith("--"):
                    assert re.search(rf"{re.escape(option)}(?![\w-])", everything), (path, option)


def all_subclasses(cls: type) -> Iterator[type]:
    for sub in cls.__subclasses__():
        yield sub
        yield from all_subclasses(sub)


def test_every_exit_code_and_error_code_is_documented():
    table = (DOCS / "exit-codes.md").read_text()
    numbers = {exit_codes.OK, exit_codes.ERROR, exit_codes.USAGE, exit_codes.REFUSED, exit_codes.CHECK_FAILED,
               exit_codes.INTERRUPTED, *exit_codes.BY_CATEGORY.values()}
    rows = {int(n) for n in re.findall(r"^\| (\d+) \|", table, flags=re.M)}
    assert rows == numbers
    summary = next(line for line in README.read_text().split("\n\n") if "Exit codes:" in line)
    assert {int(n) for n in re.findall(r"\b(\d+) [a-z`]", summary.split("Exit codes:")[1])} >= numbers
    codes = {cls.code for cls in [ToolError, *all_subclasses(ToolError)]}
    assert len(codes) > 20
    assert sorted(c for c in codes if f"`{c}`" not in table) == []


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", path.read_text(), flags=re.M | re.S)
    return {slug(h) for h in re.findall(r"^#{1,6} (.+)$", text, flags=re.M)}


def test_every_link_resolves():
    checked = 0
    for source in [README, *sorted(DOCS.glob("*.md")), ROOT / "benchmarks" / "FINDINGS.md"]:
        text = re.sub(r"^```.*?^```", "", source.read_text(), flags=re.M | re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue
            file, _, anchor = target.partition("#")
            path = (source.parent / file).resolve() if file else source
            assert path.exists(), f"{source.name}: {target}"
            if anchor:
                assert anchor in anchors(path), f"{source.name}: {target}"
            checked += 1
    assert checked > 40
