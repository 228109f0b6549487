"""One way to turn what a user typed into one id: the id itself, or a unique prefix of one.

Run and operation ids (the journal) and the caller's own ids are all resolved here, so an
empty id, an unknown one and an ambiguous prefix are the same errors everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from journal.errors import NotFound, UsageProblem

SHOWN = 10  # candidates named in an ambiguity error; the rest are counted


class AmbiguousId(UsageProblem):
    """A prefix that matches more than one id: the error lists what it could mean."""

    code = "ambiguous_id"


def resolve_prefix(ref: str, ids: Iterable[str], *, noun: str, where: str, min_length: int = 1,
                   describe: Callable[[str], str] | None = None, hint: str = "") -> str:
    """The one id `ref` names: an exact match (any case), else the only id it begins (any case).

    An empty `ref` is a usage error (an unset shell variable must not mean "all"); none is
    NotFound; several is AmbiguousId naming up to SHOWN of them (with `describe` of each)."""
    text = ref.strip().lower()
    if not text:
        raise UsageProblem(f"an empty {noun} id was given; name a {noun} by its id (or a unique prefix of it)")
    candidates = list(ids)
    exact = [i for i in candidates if i.lower() == text]
    if exact:
        return exact[0]
    if len(text) < min_length:
        raise UsageProblem(f"{noun} id {ref!r} is too short; give at least {min_length} characters")
    found = sorted(i for i in candidates if i.lower().startswith(text))
    if not found:
        raise NotFound(f"no {noun} {ref!r} in {where}")
    if len(found) > 1:
        shown = "; ".join(f"{i} ({describe(i)})" if describe else i for i in found[:SHOWN])
        more = f"; and {len(found) - SHOWN} more" if len(found) > SHOWN else ""
        raise AmbiguousId(f"{noun} id {ref!r} is ambiguous: it could mean {len(found)} {noun}s: {shown}{more}. "
                          f"Give more characters{hint}", details={"candidates": found[:100]})
    return found[0]
