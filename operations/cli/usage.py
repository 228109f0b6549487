"""Usage errors (an unknown option, a bad value, a missing argument) end as the documented exit
2; with `--json` among the arguments, in the same JSON envelope as every other error."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

from operations.cli.output import envelope, print_json

GLOBAL_WITH_VALUE = ("--codex-home", "--journal")


def command_of(argv: Sequence[str]) -> str:
    """The command the arguments name (the first word that is not a global option or its value)."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in GLOBAL_WITH_VALUE:
            skip = True
        elif not arg.startswith("-"):
            return arg
    return "codex-sessions"


class PlainHelp:
    """`--help` shown as the flag it is, without a `<bool>` type beside it."""

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)  # type: ignore[misc]
        if option is not None:
            option.metavar = ""
        return option


class Group(PlainHelp, TyperGroup):
    pass


class Command(PlainHelp, TyperCommand):
    pass


class JsonUsageErrors(PlainHelp, TyperGroup):
    """The application's group: parses as Typer does, but under --json a usage error is printed
    as the envelope (`errors[0].code` = `usage`) instead of click's text."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True, windows_expand_args: bool = True,
             **extra: Any) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        if not standalone_mode or "--json" not in argv:
            return super().main(argv, prog_name, complete_var, standalone_mode, windows_expand_args, **extra)
        try:
            result = super().main(argv, prog_name, complete_var, False, windows_expand_args, **extra)
        except typer.TyperException as exc:  # click's usage errors (exit 2) and the few others it reports
            code = exc.exit_code
            print_json(envelope(command_of(argv), None, status="error", exit_code=code,
                                errors=[{"code": "usage" if code == 2 else "error", "message": exc.format_message()}]))
            sys.exit(code)
        except typer.Abort:
            typer.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(result if isinstance(result, int) else 0)
