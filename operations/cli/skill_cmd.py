"""`skill install` / `skill uninstall`: the recovery method as a skill Codex's agent can use."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer

from operations.cli.options import CodexHomeOpt, JsonOpt
from operations.cli.output import echo, emit, handles
from operations.locations import resolve_codex_home
from operations.skill import SKILL_NAME, SkillResult, install, uninstall

skill_app = typer.Typer(
    no_args_is_help=True,
    help=f"Install or remove the `{SKILL_NAME}` skill, which teaches Codex's agent this tool's recovery method.")


def _show(result: SkillResult) -> None:
    what = {"installed": "installed", "updated": "updated", "unchanged": "already installed; nothing changed",
            "uninstalled": "removed", "not_installed": "not installed; nothing to remove"}[result.action]
    echo(f"skill {SKILL_NAME}: {what} ({result.skill_dir})")
    for label, paths in (("wrote", result.written), ("set aside (uninstall puts it back)", result.set_aside),
                         ("removed", result.removed), ("put back", result.restored),
                         ("kept (changed or added since install)", result.kept)):
        for path in paths:
            echo(f"  {label}: {path}")
    if result.action in ("installed", "updated"):
        echo(f"Codex lists it from its next session on; ask it to \"use ${SKILL_NAME}\". "
             f"Remove it with: codex-sessions skill uninstall")


@handles("skill install")
def install_cmd(
    codex_home: CodexHomeOpt = None,
    force: Annotated[bool, typer.Option(
        "--force", metavar="",
        help=f"Replace a skill named {SKILL_NAME} that this tool did not write (its files are kept beside, "
             "as <file>.before-codex-sessions, and uninstall puts them back).")] = False,
    json_: JsonOpt = False,
) -> None:
    """Install the skill into <codex-home>/skills/. Installing again changes nothing.
    Example: codex-sessions skill install"""
    result = install(resolve_codex_home(codex_home), force=force)
    emit("skill install", asdict(result), json_, lambda: _show(result))


@handles("skill uninstall")
def uninstall_cmd(codex_home: CodexHomeOpt = None, json_: JsonOpt = False) -> None:
    """Remove exactly what `skill install` wrote; files you changed or added stay.
    Example: codex-sessions skill uninstall"""
    result = uninstall(resolve_codex_home(codex_home))
    emit("skill uninstall", asdict(result), json_, lambda: _show(result))


skill_app.command("install")(install_cmd)
skill_app.command("uninstall")(uninstall_cmd)
