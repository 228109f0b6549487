"""Next steps (operations/advice.py) in words: a command is spelled with the flags its options
declare (`--` and the option's name, `_` as `-`: the one vocabulary of operations/option_specs.py)."""

from __future__ import annotations

import shlex

from operations.advice import Command, Placeholder, Step


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def spell_command(command: Command) -> str:
    parts = ["codex-sessions", *command.words]
    for name, value in command.options:
        if value is True:
            parts.append(flag(name))
        elif isinstance(value, Placeholder):
            parts += [flag(name), value.name]
        elif value is not False:
            parts += [flag(name), shlex.quote(value)]
    if command.apply:
        parts.append("--apply")
    return " ".join(parts)


def spell(step: Step) -> str:
    """The step as one line: its words, then its command, then what follows."""
    if step.command is None:
        return step.text + step.after
    command = spell_command(step.command)
    return f"{step.text}: {command}{step.after}" if step.text else command + step.after


def step_data(step: Step) -> dict[str, object]:
    """As JSON: the kind, the line, and the command on its own (None when there is none)."""
    return {"kind": step.kind, "text": spell(step),
            "command": spell_command(step.command) if step.command else None}
