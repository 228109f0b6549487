"""Strict shapes for journal records: a journal may be handed over, so every line is checked
against its kind's schema before any of it is believed.

A line that is valid JSON with a sound hash chain can still be hostile (a forger can rebuild
the chain): a field of the wrong type, an unknown kind, an effect that does not decode, a path
with a NUL byte. Such a line is a `bad_record` problem: `verify` names it, writes are refused,
and readers (`log`, `show`) skip it with a warning instead of failing on it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from journal.effects import REGISTRY, Effect, effect_from_json


def _str(value: Any) -> bool:
    return isinstance(value, str)


def _opt_str(value: Any) -> bool:
    return value is None or isinstance(value, str)


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _dict(value: Any) -> bool:
    return isinstance(value, dict)


def _list(value: Any) -> bool:
    return isinstance(value, list)


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _counts(value: Any) -> bool:
    return isinstance(value, dict) and all(_int(v) for v in value.values())


def _results(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(r, dict) and _str(r.get("op")) and _str(r.get("status")) and _opt_str(r.get("reason"))
        for r in value)


Check = Callable[[Any], bool]
# per kind: field -> (check, required)
SCHEMA: dict[str, dict[str, tuple[Check, bool]]] = {
    "genesis": {"journal_id": (_str, True)},
    "run_begin": {"run": (_str, True), "command": (_opt_str, False), "argv": (_strings, False),
                  "links": (_dict, False), "meta": (_dict, False), "tool": (_opt_str, False)},
    "intent": {"run": (_str, True), "op": (_str, True), "effects": (_list, True), "label": (_opt_str, False),
               "subject": (_opt_str, False), "compensates": (_opt_str, False), "redoes": (_opt_str, False),
               "replays": (_opt_str, False), "forced_over": (_list, False)},
    "outcome": {"op": (_str, True), "status": (_str, True), "run": (_opt_str, False), "reason": (_opt_str, False),
                "recovered": (lambda v: isinstance(v, bool), False), "recovered_by": (_opt_str, False)},
    "outcomes": {"run": (_str, True), "results": (_results, True)},
    "run_end": {"run": (_str, True), "command": (_opt_str, False), "status": (_opt_str, False),
                "counts": (_counts, False)},
    "torn_tail": {"offset": (_int, True), "length": (_int, True), "sha256": (_opt_str, False),
                  "saved_to": (_opt_str, False)},
}
COMMON: dict[str, tuple[Check, bool]] = {"v": (_int, True), "seq": (_int, True), "ts": (_opt_str, False),
                                         "prev": (_opt_str, False)}


def record_problem(record: dict[str, Any], *, effects: bool = True) -> str | None:
    """Why this record cannot be believed, or None. `effects`: also decode every effect of an
    intent (what `show` and `undo` will rely on)."""
    kind = record.get("kind")
    if not isinstance(kind, str) or kind not in SCHEMA:
        return f"unknown record kind {kind!r}"
    for name, (check, required) in (*COMMON.items(), *SCHEMA[kind].items()):
        if name not in record:
            if required:
                return f"a {kind} record without `{name}`"
            continue
        if not check(record[name]):
            return f"a {kind} record whose `{name}` is {type(record[name]).__name__} {_short(record[name])}"
    if kind == "intent" and effects:
        for number, data in enumerate(record["effects"], start=1):
            problem = effect_problem(data)
            if problem:
                return f"effect {number} of operation {record['op']}: {problem}"
    return None


def effect_problem(data: Any) -> str | None:
    """Why this stored effect cannot be used, or None: it must decode into its kind, every field
    of the declared simple type, and name paths without NUL bytes."""
    if not isinstance(data, dict) or data.get("kind") not in REGISTRY:
        return f"not an effect of a known kind ({_short(data)})"
    try:
        effect = effect_from_json(data)
        paths = effect.paths()
        targets = effect.targets()
        effect.describe()
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        return f"a {data.get('kind')} effect that cannot be read ({type(exc).__name__}: {_short(str(exc))})"
    wrong = _wrong_field(effect)
    if wrong:
        return f"a {data.get('kind')} effect whose {wrong}"
    if any(not isinstance(p, str) or not p or "\x00" in p for p in (*paths, *targets)):
        return f"a {data.get('kind')} effect with an empty path or a NUL byte in one"
    return None


_SIMPLE = {"str": str, "int": int, "bytes": bytes}


def _wrong_field(effect: Effect) -> str | None:
    """The first field whose value is not of its declared simple type (str, int, bytes, or
    `T | None`), described; None when all are."""
    for f in dataclasses.fields(effect):  # type: ignore[arg-type]
        declared = str(f.type).replace(" ", "")
        optional = declared.endswith("|None")
        wanted = _SIMPLE.get(declared.removesuffix("|None"))
        value = getattr(effect, f.name)
        if wanted is None or (optional and value is None):
            continue
        if not isinstance(value, wanted) or (wanted is int and isinstance(value, bool)):
            return f"`{f.name}` is {type(value).__name__} {_short(value)}, not {declared}"
    return None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
