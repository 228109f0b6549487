"""The typer application, every command in it: parses, calls one core function per command,
prints. (A person's command line goes through `operations.cli.entry`, which builds only the
command it names.)"""

from __future__ import annotations

from operations.cli.root import EXIT_CODES, build_app, tool_version

__all__ = ["EXIT_CODES", "app", "main", "tool_version"]

app = build_app()


def main() -> None:
    app()
