"""Fuzzing the import with real bundles: a bundle exported from a generated home (three threads
with their history, one archived, one with a `.jsonl.zst` twin) is mutated: bytes flipped,
set, cut and inserted; members reordered, dropped, doubled, swapped, cut short, re-typed as
links or folders; manifest, row, history and index fields retyped or removed, unknown ones
added; names replaced by hostile ones (absolute, `../`, backslashes, NUL, drive letters, very
long, lookalike letters). Most cases are resealed (every declared sha256 and size recomputed),
so only the import's own checks stand between them and the disk.

Each case is checked by the library first (`open_bundle`), then imported with `--apply`
through the CLI in this process: into the shared target home when the library refused it,
into a fresh copy when it passed. The invariants, for every case:
* no traceback: the library raises only a ToolError, the CLI exits 0 or 3 with its envelope;
* a refusal is `bundle_refused` with a rule, and the CLI refuses what the library refused;
* nothing outside the home is created or changed, and after a refusal nothing in the home
  either (one snapshot of the whole test folder: every path, its bytes and its mtime).

The number of cases each test ran is counted and checked against its `max_examples`; the
counts are in docs/security.md ("Bundles").
"""

from __future__ import annotations

import functools
import io
import itertools
import shutil
import stat
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
import typer.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from fixtures.generator import HomeSpec, build_home
from journal.errors import ToolError
from operations.bundle import Bundle
from operations.bundle_check import open_bundle
from operations.cli.app import app
from tests.bundles import Member, export, members, reseal, tree, write_zip
from tests.helpers import runner

BYTE_CASES = 1000
MEMBER_CASES = 600
FIELD_CASES = 600
NAME_CASES = 600


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, Path]:
    """(the real bundle's bytes, a target home to copy), made once."""
    base = tmp_path_factory.mktemp("fuzz")
    source = build_home(base / "source", HomeSpec(version="0.169.0", sessions=3, providers=("openai",),
                                                  archived_share=0.34, exec_share=0.0, turns=2, seed=5,
                                                  damage={"plain_and_zst": 1}))
    target = build_home(base / "target", HomeSpec(version="0.171.0", sessions=1, providers=("azure",),
                                                  archived_share=0.0, exec_share=0.0, seed=22))
    return export(source.root, base / "real.zip").read_bytes(), target.root


CLI_EVERY = 4  # every 4th refused case is also imported through the CLI (the rest: the library alone)


@dataclass
class Fuzz:
    """One test's world: the real bundle, the shared target home beside a sentinel tree, and
    the tally of what happened to the cases."""

    real: bytes
    template: Path
    root: Path
    home: Path
    outside: Path
    work: Path
    cases: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    through_cli: int = 0
    applied_bundles: set[str] = field(default_factory=set)  # what a passing case held, once applied
    fresh: Iterator[int] = field(default_factory=itertools.count)
    baseline: dict[str, Any] = field(default_factory=dict)

    def snapshot(self, home: Path | None = None) -> dict[str, Any]:
        """The whole test folder but the bundles (and a case's own home), every path with its
        mtime, size, inode and ctime; `homes/` itself is left out (case homes come and go in it)."""
        found = tree(self.root, skip=(self.work, *((home,) if home else ())), digests=False)
        found.pop("homes")
        return found

    def check(self, bundle: bytes) -> str:
        """Run one case and hold every invariant; the outcome (a rule, or what the import did)."""
        self.cases += 1
        path = self.work / "case.zip"
        path.write_bytes(bundle)
        refused: ToolError | None = None
        try:
            with open_bundle(path) as checked:
                content = _content(checked)
        except ToolError as exc:  # anything else fails the test, with its traceback
            refused = exc
        if refused is not None:
            assert refused.code == "bundle_refused" and refused.details.get("rule"), refused.message
            outcome = str(refused.details["rule"])
            if self.outcomes[outcome] % CLI_EVERY == 0:
                envelope = self.imported(path, self.home)
                assert envelope["exit_code"] == 3 and envelope["errors"][0]["code"] == "bundle_refused", envelope
                assert envelope["errors"][0]["rule"] == outcome
            assert self.snapshot() == self.baseline  # the home and everything around it
        else:
            outcome = "passed the check (same content as an applied case)"
            if content not in self.applied_bundles:
                self.applied_bundles.add(content)
                outcome = self.applied_in_a_copy(path)
            assert self.snapshot() == self.baseline
        self.outcomes[outcome] += 1
        return outcome

    def applied_in_a_copy(self, path: Path) -> str:
        home = self.root / "homes" / str(next(self.fresh))
        shutil.copytree(self.template, home, symlinks=True)
        envelope = self.imported(path, home)
        assert self.snapshot(home) == self.baseline  # nothing outside the home it went into
        shutil.rmtree(home)
        if envelope["exit_code"] == 0:
            return "applied"
        if envelope["errors"]:
            return f"refused at apply: {envelope['errors'][0]['code']}"
        data = envelope["data"]
        reasons = [op["reason"] for op in data.get("operations", []) if op["status"] != "applied"]
        return f"not applied: {(reasons + [r['reason'] for r in data['plan']['refused']] + ['?'])[0]}"

    def imported(self, path: Path, home: Path) -> dict[str, Any]:
        """`import PATH --apply --json` through the CLI, in this process: no traceback, a documented exit."""
        self.through_cli += 1
        result = runner.invoke(app, ["import", str(path), "--apply", "--json", "--codex-home", str(home)])
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        envelope: dict[str, Any] = orjson.loads(result.stdout)
        assert result.exit_code in (0, 3) and envelope["exit_code"] == result.exit_code, envelope
        return envelope


def _content(bundle: Bundle) -> str:
    """What a checked bundle holds, whatever its zip layout: its manifest's parts and values."""
    return orjson.dumps([bundle.source, bundle.left_out, [
        [t.id, t.row, t.history, t.index_entries, t.undecodable_columns,
         [[f.name, f.archived, f.mtime_ns, f.sha256] for f in t.files]] for t in bundle.threads]],
        default=repr).decode()


@pytest.fixture
def fuzz(tmp_path: Path, made: tuple[bytes, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[Fuzz]:
    real, template = made
    built = typer.testing._get_command(app)  # typer builds the CLI on every invoke: more than a refused
    monkeypatch.setattr(typer.testing, "_get_command", lambda _: built)  # import costs; build it once
    home = tmp_path / "home"
    shutil.copytree(template, home, symlinks=True)
    outside = tmp_path / "outside"
    (outside / "nested").mkdir(parents=True)
    (outside / "victim.jsonl").write_bytes(b"the user's own file\n")
    (outside / "nested" / "keep.txt").write_bytes(b"keep\n")
    (tmp_path / "homes").mkdir()
    work = tmp_path / "work"
    work.mkdir()
    state = Fuzz(real, template, tmp_path, home, outside, work)
    state.baseline = state.snapshot()
    yield state
    print(f"\n{state.cases} cases, {state.through_cli} through the CLI: {dict(state.outcomes.most_common())}")


def _zip(entries: list[Member], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    write_zip(buffer, entries, compression)
    return buffer.getvalue()


def _entries(real: bytes) -> list[Member]:
    return members(io.BytesIO(real))


def _resealed(entries: list[Member]) -> list[Member]:
    """The manifest (if it is still JSON) declaring every other member as it now is."""
    parts = {m.name: m.data for m in entries if m.name != "manifest.json"}
    out = []
    for m in entries:
        if m.name == "manifest.json":
            try:
                manifest = orjson.loads(m.data)
            except orjson.JSONDecodeError:
                out.append(m)
                continue
            m = Member(m.name, orjson.dumps(reseal(manifest, parts)), m.mode)
        out.append(m)
    return out


# -- bytes


def _interesting_offsets(data: bytes) -> list[int]:
    """Where the zip's structure is: every header and the end record, byte by byte."""
    out: list[int] = []
    for signature, length in ((b"PK\x03\x04", 30), (b"PK\x01\x02", 46), (b"PK\x05\x06", 22)):
        at = data.find(signature)
        while at >= 0:
            out += range(at, min(at + length + 8, len(data)))
            at = data.find(signature, at + 1)
    return sorted(set(out))


def test_fuzz_bytes_flipped_set_cut_and_inserted(fuzz: Fuzz) -> None:
    @settings(max_examples=BYTE_CASES)
    @given(data=st.data())
    def case(data: st.DataObject) -> None:
        fuzz.check(_bytes_edited(fuzz.real, data))

    case()
    assert fuzz.cases >= BYTE_CASES


@functools.cache
def _byte_edits(real: bytes) -> st.SearchStrategy[list[tuple[str, int, int]]]:
    """One to four edits, half of them where the zip's structure is (built once: strategies cost)."""
    return st.lists(st.tuples(st.sampled_from(["flip", "set", "cut", "insert", "delete"]),
                              st.one_of(st.sampled_from(_interesting_offsets(real)), st.integers(0, len(real) - 1)),
                              st.integers(0, 255)), min_size=1, max_size=4)


def _bytes_edited(real: bytes, data: st.DataObject) -> bytes:
    raw = bytearray(real)
    for kind, at, value in data.draw(_byte_edits(real)):
        at = min(at, max(len(raw) - 1, 0))
        if kind == "flip" and raw:
            raw[at] ^= 1 << (value % 8)
        elif kind == "set" and raw:
            raw[at] = value
        elif kind == "cut":
            del raw[at:]
        elif kind == "insert":
            raw[at:at] = bytes([value]) * (1 + value % 7)
        elif kind == "delete":
            del raw[at : at + 1 + value % 7]
    return bytes(raw)


# -- members


MODES = st.sampled_from([stat.S_IFREG | 0o644, stat.S_IFLNK | 0o777, stat.S_IFDIR | 0o755, stat.S_IFREG | 0o4755,
                         0, stat.S_IFIFO | 0o644])
MEMBER_EDITS = st.lists(st.sampled_from(["reorder", "drop", "double", "swap", "cut", "junk", "mode",
                                         "rename_to_other"]), min_size=1, max_size=3)
JUNK = st.binary(max_size=64)


def test_fuzz_members_reordered_dropped_doubled_swapped_and_cut(fuzz: Fuzz) -> None:
    @settings(max_examples=MEMBER_CASES)
    @given(data=st.data())
    def case(data: st.DataObject) -> None:
        fuzz.check(_members_edited(fuzz.real, data))

    case()
    assert fuzz.cases >= MEMBER_CASES
    assert fuzz.outcomes["applied"] > 0  # reordered members, e.g.: a changed zip can still be a sound bundle


def _members_edited(real: bytes, data: st.DataObject) -> bytes:
    entries = _entries(real)
    for kind in data.draw(MEMBER_EDITS):
        n = len(entries)
        if n == 0:
            break
        index = st.integers(0, n - 1)
        i, j = data.draw(index), data.draw(index)
        if kind == "reorder":
            order = data.draw(st.permutations(range(n)))
            entries = [entries[k] for k in order]
        elif kind == "drop":
            del entries[i]
        elif kind == "double":
            entries.append(Member(entries[i].name, data.draw(st.sampled_from([entries[i].data, entries[j].data])),
                                  entries[i].mode))
        elif kind == "swap":
            entries[i], entries[j] = (Member(entries[i].name, entries[j].data, entries[i].mode),
                                      Member(entries[j].name, entries[i].data, entries[j].mode))
        elif kind == "cut":
            data_i = entries[i].data
            entries[i] = Member(entries[i].name, data_i[: data.draw(st.integers(0, len(data_i)))], entries[i].mode)
        elif kind == "junk":
            entries.append(Member(data.draw(st.sampled_from(
                ["notes.txt", entries[i].name + ".bak", entries[i].name.rsplit("/", 1)[0] + "/extra.json"])),
                data.draw(JUNK)))
        elif kind == "mode":
            entries[i] = Member(entries[i].name, entries[i].data, data.draw(MODES))
        elif kind == "rename_to_other":
            entries[i] = Member(entries[j].name, entries[i].data, entries[i].mode)
    if data.draw(st.booleans()):
        entries = _resealed(entries)
    stored = data.draw(st.booleans())
    return _zip(entries, zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED)


# -- fields


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for k, value in enumerate(doc):
            yield from _paths(value, (*prefix, k))


# Strategies are built once: building one (a recursive one above all) costs more than a case.
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(1 << 63), (1 << 64) - 1),  # what JSON here holds
                     st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20),
                     st.sampled_from(["", "../../x", "/etc/passwd", "0" * 64, "yesterday",
                                      "01a2b3c4-d5e6-7f80-9a1b-2c3d4e5f6a7b"]))
JSON_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                             st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                           max_leaves=6)
NEW_KEYS = st.text(min_size=1, max_size=12)
ACTIONS = st.sampled_from(["retype", "retype", "remove", "add"])
EDITS = st.integers(1, 3)


def test_fuzz_fields_retyped_removed_and_added(fuzz: Fuzz) -> None:
    @settings(max_examples=FIELD_CASES)
    @given(data=st.data())
    def case(data: st.DataObject) -> None:
        fuzz.check(_fields_edited(fuzz.real, data))

    case()
    assert fuzz.cases >= FIELD_CASES


def _fields_edited(real: bytes, data: st.DataObject) -> bytes:
    entries = _resealed(_entries(real))
    json_members = [k for k, m in enumerate(entries) if m.name.endswith(".json") and m.name != "manifest.json"]
    manifest_at = next(k for k, m in enumerate(entries) if m.name == "manifest.json")
    documents = st.one_of(st.just(manifest_at), st.sampled_from(json_members))  # half of them the manifest
    for _ in range(data.draw(EDITS)):
        k = data.draw(documents)
        doc = orjson.loads(entries[k].data)
        paths = list(_paths(doc))
        path = paths[data.draw(st.integers(0, len(paths) - 1))]
        action = data.draw(ACTIONS)
        doc = _edited(doc, path, action, data.draw(JSON_VALUES), data.draw(NEW_KEYS))
        entries[k] = Member(entries[k].name, orjson.dumps(doc), entries[k].mode)
        if entries[k].name != "manifest.json" or data.draw(st.booleans()):
            entries = _resealed(entries)  # so only the schema checks can refuse it
    return _zip(entries)


def _edited(doc: Any, path: tuple[Any, ...], action: str, value: Any, new_key: str) -> Any:
    if not path:
        return value if action == "retype" else doc
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    if action == "retype":
        parent[last] = value
    elif action == "remove":
        del parent[last]
    elif isinstance(parent, dict):
        parent[new_key] = value
    else:
        parent.append(value)
    return doc


# -- names


def _hostile_names(fuzz: Fuzz, name: str, thread: str) -> list[str]:
    stem = name.split(".jsonl")[0]
    return [
        str(fuzz.outside / "victim.jsonl"), "/etc/passwd", str(fuzz.outside / name),
        "../" + name, "../../outside/" + name, "../" * 8 + "outside/" + name, "./" + name, name + "/..",
        "..\\..\\outside\\" + name, "sub\\" + name, "C:" + name, "C:\\Users\\" + name, "c:/" + name,
        "\\\\server\\share\\" + name, name + "\x00", name + "\x00/../../x", "\x00", "",
        "sub/dir/" + name, name + "\n", " " + name, name + " ", name + ".", name + "/",
        name * 40, "rollout-" + "9" * 5000 + ".jsonl",
        name.replace("rollout", "r\u043ellout"), name.replace("-", "\u2010"), name.replace("T", "\uff34"),
        name.replace(thread, thread.upper()), name.replace("2026", "\uff12\uff10\uff12\uff16"),
        name.replace(".jsonl", ".json"), stem + (".jsonl" if name.endswith(".zst") else ".jsonl.zst"),
        "e\u0301" + name, stem + ".jsonl:stream", name.replace(thread, "01a2b3c4-d5e6-7f80-9a1b-2c3d4e5f6a7b"),
    ]


def test_fuzz_names_replaced_by_hostile_ones(fuzz: Fuzz) -> None:
    @settings(max_examples=NAME_CASES)
    @given(data=st.data())
    def case(data: st.DataObject) -> None:
        fuzz.check(_names_edited(fuzz, data))

    case()
    assert fuzz.cases >= NAME_CASES


def _names_edited(fuzz: Fuzz, data: st.DataObject) -> bytes:
    entries = _entries(fuzz.real)
    manifest_at = next(k for k, m in enumerate(entries) if m.name == "manifest.json")
    manifest = orjson.loads(entries[manifest_at].data)
    thread = data.draw(st.sampled_from(manifest["threads"]))
    file = data.draw(st.sampled_from(thread["files"]))
    old_member = f"threads/{thread['id']}/files/{file['name']}"
    any_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)  # zip names are UTF-8
    new = data.draw(st.one_of(st.sampled_from(_hostile_names(fuzz, file["name"], thread["id"])), any_text))
    where = data.draw(st.sampled_from(["file_everywhere", "file_in_manifest", "file_member", "thread_id",
                                       "extra_part", "member_only"]))
    if where in ("file_everywhere", "file_in_manifest"):
        file["name"] = new
    if where in ("file_everywhere", "file_member"):
        entries = [Member(f"threads/{thread['id']}/files/{new}" if m.name == old_member else m.name, m.data, m.mode)
                   for m in entries]
    if where == "thread_id":
        old_id = thread["id"]
        thread["id"] = new
        entries = [Member(m.name.replace(f"threads/{old_id}/", f"threads/{new}/"), m.data, m.mode)
                   for m in entries]
    if where == "extra_part":
        entries.append(Member(f"threads/{thread['id']}/{new}", b'{"id": "x"}\n'))
    if where == "member_only":
        entries.append(Member(new, b"{}\n"))
    entries[manifest_at] = Member("manifest.json", orjson.dumps(manifest))
    if data.draw(st.booleans()) or where != "member_only":
        entries = _resealed(entries)
    return _zip(entries)
