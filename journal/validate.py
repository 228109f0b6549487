"""Strict shapes for journal records: a journal may be handed over, so every line is checked
against its kind's schema before any of it is believed.

A line that is valid JSON with a sound hash chain can still be hostile (a forger can rebuild
the chain): a field of the wrong type, an unknown kind, an effect that does not decode, a path
with a NUL byte. Such a line is a `bad_record` problem: `verify` names it, writes are refused,
and readers (`log`, `show`) skip it with a warning instead of failing on it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from journal.effects import REGISTRY, Effect, effect_from_json
from journal.records import ACTIONS

NONE = type(None)
STR, OPT_STR, INT, DICT, LIST, BOOL = (str,), (str, NONE), (int,), (dict,), (list,), (bool,)
# per kind: (field, allowed exact types, required); `type(v) in types` keeps `log`'s hot path fast
SCHEMA: dict[str, tuple[tuple[str, tuple[type, ...], bool], ...]] = {
    "genesis": (("journal_id", STR, True),),
    "run_begin": (("run", STR, True), ("command", OPT_STR, False), ("argv", LIST, False), ("links", DICT, False),
                  ("meta", DICT, False), ("tool", OPT_STR, False)),
    "intent": (("run", STR, True), ("op", STR, True), ("effects", LIST, True), ("label", OPT_STR, False),
               ("subject", OPT_STR, False), ("compensates", OPT_STR, False), ("redoes", OPT_STR, False),
               ("replays", OPT_STR, False), ("forced_over", LIST, False), ("action", OPT_STR, False),
               ("origin", OPT_STR, False)),
    "outcome": (("op", STR, True), ("status", STR, True), ("run", OPT_STR, False), ("reason", OPT_STR, False),
                ("recovered", BOOL, False), ("recovered_by", OPT_STR, False)),
    "outcomes": (("run", STR, True), ("results", LIST, True)),
    "run_end": (("run", STR, True), ("command", OPT_STR, False), ("status", OPT_STR, False),
                ("counts", DICT, False)),
    "torn_tail": (("offset", INT, True), ("length", INT, True), ("sha256", OPT_STR, False),
                  ("saved_to", OPT_STR, False)),
}
COMMON = (("v", INT, True), ("seq", INT, True), ("ts", OPT_STR, False), ("prev", OPT_STR, False))
_MISSING = object()


def record_problem(record: dict[str, Any], *, effects: bool = True) -> str | None:
    """Why this record cannot be believed, or None. `effects`: also decode every effect of an
    intent (what `show` and `undo` will rely on); without it, only their kinds are checked."""
    kind = record.get("kind")
    spec = SCHEMA.get(kind) if type(kind) is str else None
    if spec is None:
        return f"unknown record kind {_short(kind)}"
    for fields in (COMMON, spec):
        for name, types, required in fields:
            value = record.get(name, _MISSING)
            if value is _MISSING:
                if required:
                    return f"a {kind} record without `{name}`"
            elif type(value) not in types:
                return f"a {kind} record whose `{name}` is {type(value).__name__} {_short(value)}"
    deep = _deep_problem(str(kind), record)
    if deep:
        return deep
    if kind == "intent":
        for number, data in enumerate(record["effects"], start=1):
            problem = effect_problem(data) if effects else (
                None if type(data) is dict and type(data.get("kind")) is str and data.get("kind") in REGISTRY
                else f"an effect of no known kind ({_short(data.get('kind') if type(data) is dict else data)})")
            if problem:
                return f"effect {number} of operation {record['op']}: {problem}"
    return None


def _deep_problem(kind: str, record: dict[str, Any]) -> str | None:
    """The few fields whose items have a type too (lists of strings, counts, results)."""
    if kind == "run_begin" and not all(type(a) is str for a in record.get("argv", ())):
        return "a run_begin record whose `argv` holds something other than strings"
    if kind == "intent" and record.get("action") not in (None, *ACTIONS):
        return f"an intent record whose `action` is {_short(record.get('action'))}, not undo, redo or replay"
    if kind == "run_end" and not all(type(n) is int for n in record.get("counts", {}).values()):
        return "a run_end record whose `counts` are not all integers"
    if kind == "outcomes":
        for r in record["results"]:
            if type(r) is not dict or type(r.get("op")) is not str or type(r.get("status")) is not str or \
                    type(r.get("reason", "")) is not str:
                return f"an outcomes record with a result of no valid shape ({_short(r)})"
    return None


def effect_problem(data: Any) -> str | None:
    """Why this stored effect cannot be used, or None."""
    return decode_effect(data)[1]


def decode_effect(data: Any) -> tuple[Effect | None, str | None]:
    """(the effect, None), or (None, why it cannot be used): it must decode into its kind, each
    field of its declared simple type, and name its paths without NUL bytes."""
    if not isinstance(data, dict):
        return None, f"not an effect ({_short(data)})"
    kind = data.get("kind")
    if type(kind) is not str or kind not in REGISTRY:
        return None, f"an effect of no known kind ({_short(data.get('kind'))})"
    try:
        effect = effect_from_json(data)
        names = (*effect.paths(), *effect.targets())
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        return None, f"a {data.get('kind')} effect that cannot be read ({type(exc).__name__}: {_short(str(exc))})"
    for name, wanted, optional in _typed_fields(type(effect)):
        value = getattr(effect, name)
        if (value is None and optional) or (type(value) is wanted):
            continue
        return None, f"a {data.get('kind')} effect whose `{name}` is {type(value).__name__} {_short(value)}"
    if any(type(n) is not str or not n or "\x00" in n for n in names):
        return None, f"a {data.get('kind')} effect with an empty path or a NUL byte in one"
    return effect, None


_SIMPLE = {"str": str, "int": int, "bytes": bytes}


_TYPED: dict[str, tuple[tuple[str, type, bool], ...]] = {}


def _typed_fields(cls: type) -> tuple[tuple[str, type, bool], ...]:
    """The fields of an effect class declared as str, int or bytes (or `T | None`), worked out once."""
    found = _TYPED.get(cls.__qualname__)
    if found is None:
        out = []
        for f in dataclasses.fields(cls):
            declared = str(f.type).replace(" ", "")
            wanted = _SIMPLE.get(declared.removesuffix("|None"))
            if wanted is not None:
                out.append((f.name, wanted, declared.endswith("|None")))
        found = _TYPED[cls.__qualname__] = tuple(out)
    return found


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
