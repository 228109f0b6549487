"""`--json` output written in pieces is byte for byte what one `orjson.dumps` would give."""

from __future__ import annotations

import io
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from operations.cli.output import to_json_bytes, write_json

leaf = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False, allow_infinity=False) \
    | st.text(max_size=12)
documents = st.recursive(leaf, lambda inner: st.lists(inner, max_size=6)
                         | st.dictionaries(st.text(max_size=6), inner, max_size=6), max_leaves=40)


def _pieces(value: object, long_list: int) -> bytes:
    out = io.BytesIO()
    write_json(out.write, value, long_list=long_list)
    return out.getvalue()


@settings(max_examples=400)
@given(documents, st.integers(0, 3))
def test_written_in_pieces_equals_one_dump(value: object, long_list: int) -> None:
    assert _pieces(value, long_list) == to_json_bytes(value)


@dataclass
class _Thing:
    name: str
    tags: tuple[str, ...]


def test_values_orjson_cannot_write_alone_go_through_the_same_default() -> None:
    value = {"data": {"plan": {"operations": [{"n": i, "thing": _Thing("x", ("a", "b"))} for i in range(5)],
                               "ids": {1: "int key", 2: "left to orjson"}, "raw": b"\xffbytes"}}}
    assert _pieces(value, 2) == to_json_bytes(value)


@settings(max_examples=200)
@given(st.lists(documents, max_size=8), st.integers(0, 3))
def test_a_streamed_list_is_written_as_the_list_it_stands_for(items: list[object], long_list: int) -> None:
    from operations.cli.output import Streamed

    built: list[int] = []

    def build(i: int) -> object:
        built.append(i)
        return items[i]

    streamed = Streamed(range(len(items)), build)
    doc = {"data": {"plan": {"operations": streamed, "count": len(items)}}, "nested": [streamed]}
    expected = to_json_bytes({"data": {"plan": {"operations": items, "count": len(items)}}, "nested": [items]})
    assert _pieces(doc, long_list) == expected == to_json_bytes(doc)
    assert len(streamed) == len(items) and streamed[:2] == items[:2]
    assert bool(built) == bool(items)  # built on demand as written, never stored
