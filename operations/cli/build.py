"""Typer commands built from options declared as data (operations/operation.py OptionSpec): each
spec becomes one option; its `deprecated` spellings are accepted, hidden from help, for one
release; values are checked inside the command, so a bad one is a usage error (exit 2), also
under --json."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Annotated, Any

import typer

from journal.errors import UsageProblem
from operations.cli.output import handles
from operations.operation import OptionSpec

OLD = "__old"


def _annotation(spec: OptionSpec, flags: Sequence[str], hidden: bool) -> Any:
    kind: Any = spec.kind
    if spec.repeatable:
        kind = list[kind] | None
    elif spec.kind is not bool and not spec.required:
        kind = kind | None
    help_text = spec.help + (f" One of: {', '.join(spec.choices)}." if spec.choices and "posix" not in spec.help
                             else "")
    return Annotated[kind, typer.Option(*flags, metavar=spec.metavar if spec.kind is not bool else "",
                                        help=help_text, hidden=hidden, show_default=False)]


def parameters(specs: Sequence[OptionSpec]) -> list[inspect.Parameter]:
    params = []
    for spec in specs:
        default = bool(spec.default) if spec.kind is bool else inspect.Parameter.empty if spec.required \
            else spec.default
        params.append(inspect.Parameter(spec.name, inspect.Parameter.KEYWORD_ONLY, default=default,
                                        annotation=_annotation(spec, spec.flags, hidden=False)))
        if spec.deprecated:
            params.append(inspect.Parameter(spec.name + OLD, inspect.Parameter.KEYWORD_ONLY,
                                            default=False if spec.kind is bool else None,
                                            annotation=_annotation(spec, spec.deprecated, hidden=True)))
    return params


def values(specs: Sequence[OptionSpec], given: dict[str, Any]) -> dict[str, Any]:
    """The options' values, the deprecated spellings folded in, each checked."""
    out: dict[str, Any] = {}
    for spec in specs:
        value, old = given.get(spec.name), given.get(spec.name + OLD)
        if spec.repeatable and old:
            value = [*(value or []), *old]
        elif old not in (None, False) and value in (None, False, spec.default):
            value = old
        if spec.repeatable and value is None:
            value = spec.empty
        if value is not None and spec.choices and value not in spec.choices:
            raise UsageProblem(f"{spec.flags[0]} {value!r} is not one of {', '.join(spec.choices)}")
        if value is not None and spec.check is not None and value not in ((), False):
            try:
                value = spec.check(value)
            except UsageProblem as exc:
                raise UsageProblem(f"{spec.flags[0]} {exc.message}") from None
        out[spec.name] = value
    return out


def command(name: str, specs: Sequence[OptionSpec], handler: Callable[[dict[str, Any]], None], doc: str,
            arguments: Sequence[inspect.Parameter] = ()) -> Callable[..., None]:
    """A typer command: `arguments` (typer Arguments) first, then one option per spec; the handler
    gets every value by name, checked."""
    params = [*arguments, *parameters(specs)]

    def run(**given: Any) -> None:
        checked = values(specs, given)
        checked.update({p.name: given[p.name] for p in arguments})
        handler(checked)

    run.__signature__ = inspect.Signature(params, return_annotation=None)  # type: ignore[attr-defined]
    run.__annotations__ = {p.name: p.annotation for p in params} | {"return": None}
    run.__doc__ = doc
    run.__name__ = run.__qualname__ = name.replace("-", "_") + "_cmd"
    return handles(name.split()[0])(run)
