"""Hostile bundles: each one made from a real export and resealed (every part's sha256 and size
recomputed), so only the import's own checks stand between it and the disk. Each is refused
with `bundle_refused` naming the part and the rule, in the dry run and with --apply; nothing
outside the target home is created or changed (a sentinel tree beside it, with a file a
bundle tries to overwrite), and the target home is unchanged to the byte and the mtime."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from fixtures.generator import HomeSpec, build_home
from operations import bundle_check
from tests.bundles import (
    Member,
    deflated,
    export,
    members,
    parts_of,
    reseal,
    sealed,
    tree,
    write_raw_zip,
    write_zip,
    zeros_bomb,
)
from tests.codexhome import snapshot
from tests.helpers import cli_json

OTHER_ID = "01a2b3c4-d5e6-7f80-9a1b-2c3d4e5f6a7b"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def homes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(a real bundle of six threads with history, a target home to copy) made once."""
    base = tmp_path_factory.mktemp("hostile")
    source = build_home(base / "source", HomeSpec(version="0.169.0", sessions=6, providers=("openai",),
                                                  archived_share=0.3, exec_share=0.0, turns=2, seed=21))
    target = build_home(base / "target", HomeSpec(version="0.171.0", sessions=3, providers=("azure",),
                                                  archived_share=0.0, exec_share=0.0, seed=22))
    return export(source.root, base / "real.zip"), target.root


@dataclass
class Scene:
    bundle: Path  # the real bundle
    home: Path  # the target home (a fresh copy)
    outside: Path  # a sentinel tree beside the home
    victim: Path  # a file in it that a bundle tries to overwrite
    work: Path  # where the hostile bundles are written


@pytest.fixture
def scene(tmp_path: Path, homes: tuple[Path, Path]) -> Scene:
    real, template = homes
    home = tmp_path / "home"
    shutil.copytree(template, home, symlinks=True)
    outside = tmp_path / "outside"
    (outside / "nested").mkdir(parents=True)
    victim = outside / "victim.jsonl"
    victim.write_bytes(b"the user's own file\n")
    (outside / "nested" / "keep.txt").write_bytes(b"keep\n")
    work = tmp_path / "bundles"
    work.mkdir()
    return Scene(real, home, outside, victim, work)


Parts = dict[str, bytes]
Case = Callable[[Any, Parts, Scene], list[Member]]


def _first(manifest: Any) -> tuple[str, dict[str, Any]]:
    thread = manifest["threads"][0]
    return thread["id"], thread["files"][0]


def _renamed_file(manifest: Any, parts: Parts, new_name: str) -> list[Member]:
    """The first thread's first file under another name, in the manifest and in the zip."""
    tid, f = _first(manifest)
    parts[f"threads/{tid}/files/{new_name}"] = parts.pop(f"threads/{tid}/files/{f['name']}")
    f["name"] = new_name
    return _seal(manifest, parts)


def _seal(manifest: Any, parts: Parts, extra: list[Member] | None = None) -> list[Member]:
    body = orjson.dumps(reseal(manifest, parts))
    return [Member("manifest.json", body), *(Member(n, d) for n, d in parts.items()), *(extra or [])]


def _rollout_name(manifest: Any) -> str:
    return str(_first(manifest)[1]["name"])


def _with_thread_id(manifest: Any, parts: Parts, new_id: str, *, row: bool, names: bool, meta: bool) -> None:
    """The first thread under another id in the manifest and its part names; and, as asked, in its
    row (with its history and index), its file names, and its rollouts' session_meta."""
    tid, _ = _first(manifest)
    thread = manifest["threads"][0]
    thread["id"] = new_id
    for name in [n for n in parts if n.startswith(f"threads/{tid}/")]:
        data = parts.pop(name)
        if name.endswith(("/row.json", "/history.json", "/index.json")) and row:
            data = data.replace(tid.encode(), new_id.encode())
        if "/files/" in name and meta:
            data = data.replace(tid.encode(), new_id.encode())
        rest = name[len(f"threads/{tid}/"):]
        if rest.startswith("files/") and names:
            rest = rest.replace(tid, new_id)
        parts[f"threads/{new_id}/{rest}"] = data
    if names:
        for f in thread["files"]:
            f["name"] = f["name"].replace(tid, new_id)
    if not names:  # keep the parts where the manifest says the files are
        for f in thread["files"]:
            assert f"threads/{new_id}/files/{f['name']}" in parts


def _json_part(manifest: Any, parts: Parts, kind: str, change: Callable[[Any], Any]) -> list[Member]:
    tid, _ = _first(manifest)
    name = f"threads/{tid}/{kind}"
    parts[name] = orjson.dumps(change(orjson.loads(parts[name])))
    return _seal(manifest, parts)


def _set(path: str, value: Any) -> Callable[[Any], Any]:
    """A change to the manifest: the value at a dotted path (list indexes as numbers)."""

    def change(doc: Any) -> Any:
        keys = path.split(".")
        node = doc
        for key in keys[:-1]:
            node = node[int(key)] if isinstance(node, list) else node[key]
        last = keys[-1]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
        return doc

    return change


def _manifest_changed(change: Callable[[Any], Any], *, reseal_first: bool = True) -> Case:
    def case(manifest: Any, parts: Parts, scene: Scene) -> list[Member]:
        if reseal_first:
            reseal(manifest, parts)
        return [Member("manifest.json", orjson.dumps(change(manifest))), *(Member(n, d) for n, d in parts.items())]

    return case


def _declared(manifest: Any, parts: Parts, kind: str, key: str, value: Any) -> list[Member]:
    """The first thread's `kind` part declared with another sha256 or size."""
    reseal(manifest, parts)
    manifest["parts"][f"threads/{_first(manifest)[0]}/{kind}"][key] = value
    return [Member("manifest.json", orjson.dumps(manifest)), *(Member(n, d) for n, d in parts.items())]


CASES: dict[str, tuple[Case, str]] = {
    # names that would leave their folder, or are not Codex's
    "absolute file name (an existing file outside)": (
        lambda m, p, s: _renamed_file(m, p, str(s.victim)), "unsafe_name"),
    "../ in a file name": (
        lambda m, p, s: _renamed_file(m, p, "../../outside/" + _rollout_name(m)), "unsafe_name"),
    "backslashes in a file name": (
        lambda m, p, s: _renamed_file(m, p, "..\\..\\outside\\" + _rollout_name(m)), "unsafe_name"),
    "a sub-folder in a file name": (
        lambda m, p, s: _renamed_file(m, p, "sub/dir/" + _rollout_name(m)), "unsafe_name"),
    "a drive letter in a file name": (
        lambda m, p, s: _renamed_file(m, p, "C:" + _rollout_name(m)), "unsafe_name"),
    "a NUL in a file name": (
        lambda m, p, s: _renamed_file(m, p, _rollout_name(m) + "\x00.txt"), "unsafe_name"),
    "a very long file name": (
        lambda m, p, s: _renamed_file(m, p, "rollout-" + "a" * 4000 + ".jsonl"), "file_name"),
    "a lookalike letter in a file name": (
        lambda m, p, s: _renamed_file(m, p, _rollout_name(m).replace("rollout", "r\u043ellout")), "file_name"),
    "a file name that is not a rollout's": (
        lambda m, p, s: _renamed_file(m, p, "notes.jsonl"), "file_name"),
    "an impossible date in a file name": (
        lambda m, p, s: _renamed_file(m, p, "rollout-2026-13-45" + _rollout_name(m)[18:]), "file_name"),
    "a part listed under ../../": (
        lambda m, p, s: _seal(m, {**p, f"threads/{_first(m)[0]}/../../../outside/evil.jsonl": b"{}\n"}),
        "unsafe_name"),
    "a part listed under an absolute name": (
        lambda m, p, s: _seal(m, {**p, "/tmp/evil.jsonl": b"{}\n"}), "unsafe_name"),
    # ids that disagree
    "manifest id differs from row.json id": (
        lambda m, p, s: (_with_thread_id(m, p, OTHER_ID, row=False, names=True, meta=True), _seal(m, p))[1],
        "id_mismatch"),
    "row.json id differs from the manifest's": (
        lambda m, p, s: _json_part(m, p, "row.json", _set("id", OTHER_ID)), "id_mismatch"),
    "file name id differs": (
        lambda m, p, s: (_with_thread_id(m, p, OTHER_ID, row=True, names=False, meta=True), _seal(m, p))[1],
        "id_mismatch"),
    "session_meta.id differs": (
        lambda m, p, s: (_with_thread_id(m, p, OTHER_ID, row=True, names=True, meta=False), _seal(m, p))[1],
        "id_mismatch"),
    "two threads with one id": (
        lambda m, p, s: _manifest_changed(lambda d: {**d, "threads": [d["threads"][0], *d["threads"]]})(m, p, s),
        "duplicate_thread"),
    # the manifest's shape
    "manifest is a list": (_manifest_changed(lambda d: [d]), "manifest_schema"),
    "manifest without threads": (
        _manifest_changed(lambda d: {k: v for k, v in d.items() if k != "threads"}), "manifest_schema"),
    "manifest with an unknown key": (_manifest_changed(_set("run_after_import", "rm -rf ~")), "manifest_schema"),
    "manifest not JSON": (lambda m, p, s: [Member("manifest.json", b"{not json"),
                                           *(Member(n, d) for n, d in p.items())], "manifest_not_json"),
    "no manifest": (lambda m, p, s: [Member(n, d) for n, d in p.items()], "manifest_missing"),
    "another format": (_manifest_changed(_set("format", "zip-of-anything")), "format"),
    "a newer version": (_manifest_changed(_set("version", 3)), "format"),
    "mtime a string": (_manifest_changed(_set("threads.0.files.0.mtime_ns", "yesterday")), "manifest_schema"),
    "mtime negative": (_manifest_changed(_set("threads.0.files.0.mtime_ns", -1)), "manifest_schema"),
    "mtime too large": (_manifest_changed(_set("threads.0.files.0.mtime_ns", 1 << 63)), "manifest_schema"),
    "archived not a bool": (_manifest_changed(_set("threads.0.files.0.archived", 1)), "manifest_schema"),
    "threads an object": (_manifest_changed(_set("threads", {"a": 1})), "manifest_schema"),
    "no files for a thread": (_manifest_changed(_set("threads.0.files", [])), "manifest_schema"),
    "a thread id that is no uuid": (_manifest_changed(_set("threads.0.id", "../../etc")), "thread_id"),
    "sha256 not hex": (lambda m, p, s: _declared(m, p, "row.json", "sha256", "x" * 64), "manifest_schema"),
    "size a float": (lambda m, p, s: _declared(m, p, "row.json", "size", 12.0), "manifest_schema"),
    "an unknown key in a file entry": (
        _manifest_changed(_set("threads.0.files.0.mode", 0o4755)), "manifest_schema"),
    # parts and members
    "a part missing from the zip": (
        lambda m, p, s: [x for x in _seal(m, p) if "/files/" not in x.name], "missing_part"),
    "a member the manifest does not list": (
        lambda m, p, s: _seal(m, p, [Member(f"threads/{_first(m)[0]}/files/{_rollout_name(m)[:-6]}x.jsonl",
                                            b"{}\n")]), "unlisted_member"),
    "a part of an unknown kind": (
        lambda m, p, s: _seal(m, {**p, f"threads/{_first(m)[0]}/hooks.sh": b"echo owned\n"}), "unknown_part"),
    "a duplicate member": (
        lambda m, p, s: _seal(m, p, [Member(f"threads/{_first(m)[0]}/row.json", b"[]")]), "duplicate_member"),
    "a symlink member": (
        lambda m, p, s: [x if "/files/" not in x.name else Member(x.name, str(s.victim).encode(),
                                                                    stat.S_IFLNK | 0o777) for x in _seal(m, p)],
        "not_a_regular_file"),
    "a folder member": (lambda m, p, s: _seal(m, p, [Member("threads/", b"", stat.S_IFDIR | 0o755)]),
                        "not_a_regular_file"),
    "a part bigger than declared": (lambda m, p, s: _declared(m, p, "row.json", "size", 10), "size_mismatch"),
    "a file size that disagrees with its part": (
        _manifest_changed(_set("threads.0.files.0.size", 3)), "size_mismatch"),
    "a part swapped with another": (
        lambda m, p, s: _swapped(m, p), "sha256"),
    # what the parts hold
    "row.json a list": (lambda m, p, s: _json_part(m, p, "row.json", lambda r: [r]), "row"),
    "a column no Codex has": (lambda m, p, s: _json_part(m, p, "row.json", _set("owner", "x")), "row"),
    "created_at a string": (lambda m, p, s: _json_part(m, p, "row.json", _set("created_at", "today")), "row"),
    "archived a bool in the row": (lambda m, p, s: _json_part(m, p, "row.json", _set("archived", True)), "row"),
    "title null": (lambda m, p, s: _json_part(m, p, "row.json", _set("title", None)), "row"),
    "row.json not JSON": (lambda m, p, s: (p.__setitem__(f"threads/{_first(m)[0]}/row.json", b"{"),
                                           _seal(m, p))[1], "part_not_json"),
    "history turns an object": (lambda m, p, s: _json_part(m, p, "history.json", _set("turns", {})), "history"),
    "a history turn of another thread": (
        lambda m, p, s: _json_part(m, p, "history.json", _set("turns.0.thread_id", OTHER_ID)), "id_mismatch"),
    "an index entry of another thread": (
        lambda m, p, s: _json_part(m, p, "index.json", lambda e: [{"id": OTHER_ID}]), "index"),
    "a rollout that is not one": (
        lambda m, p, s: (p.__setitem__(f"threads/{_first(m)[0]}/files/{_rollout_name(m)}", b"#!/bin/sh\n"),
                         _seal(m, p))[1], "first_line"),
}


def _swapped(manifest: Any, parts: Parts) -> list[Member]:
    """Two parts of the same size and other content, each under the other's name."""
    body = orjson.dumps(reseal(manifest, parts))
    a, b = next((a, b) for a in parts for b in parts
                if a < b and len(parts[a]) == len(parts[b]) and parts[a] != parts[b])
    parts[a], parts[b] = parts[b], parts[a]
    return [Member("manifest.json", body), *(Member(n, d) for n, d in parts.items())]


def _refused(scene: Scene, bundle: Path, rule: str) -> dict[str, Any]:
    """The import of `bundle` is refused with `rule`, dry and with --apply, and nothing changed."""
    outside, home = tree(scene.outside), tree(scene.home)
    error: dict[str, Any] = {}
    for extra in ([], ["--apply"]):
        code, data = cli_json("import", str(bundle), "--codex-home", str(scene.home), *extra)
        assert code == 3 and data["status"] == "refused", data
        error = data["errors"][0]
        assert error["code"] == "bundle_refused" and error["rule"] == rule, error
        assert repr(error["part"]) in error["message"] and f"rule {rule}" in error["message"]
    assert tree(scene.outside) == outside
    assert tree(scene.home) == home
    assert not (scene.home / "codex-sessions").exists()  # not even a journal
    assert scene.victim.read_bytes() == b"the user's own file\n"
    return error


@pytest.mark.parametrize("case", list(CASES))
def test_a_hostile_bundle_is_refused_and_nothing_is_written(scene: Scene, case: str) -> None:
    build, rule = CASES[case]
    manifest, parts = parts_of(scene.bundle)
    bundle = write_zip(scene.work / "hostile.zip", build(manifest, parts, scene))
    _refused(scene, bundle, rule)


def test_the_real_bundle_these_cases_start_from_is_accepted(scene: Scene) -> None:
    """The control: the same bundle, unchanged but taken apart and resealed the same way, imports."""
    manifest, parts = parts_of(scene.bundle)
    bundle = sealed(scene.work / "same.zip", manifest, parts)
    outside = tree(scene.outside)
    code, data = cli_json("import", str(bundle), "--apply", "--codex-home", str(scene.home))
    assert code == 0 and data["data"]["counts"]["applied"] == 6, data
    assert tree(scene.outside) == outside


def test_a_flipped_bit_inside_compressed_data_is_refused(scene: Scene) -> None:
    raw = bytearray(scene.bundle.read_bytes())
    with zipfile.ZipFile(scene.bundle) as archive:
        info = next(i for i in archive.infolist() if "/files/" in i.filename)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)  # its compressed data
    raw[start + info.compress_size // 2] ^= 0x10
    bundle = scene.work / "flipped.zip"
    bundle.write_bytes(bytes(raw))
    error = _refused(scene, bundle, "damaged")
    assert error["part"] == info.filename


@pytest.mark.parametrize(("flag", "rule"), [("encrypted", "encrypted"), ("bzip2", "compression_method")])
def test_encrypted_or_exotic_members_are_refused(scene: Scene, flag: str, rule: str) -> None:
    bundle = scene.work / f"{flag}.zip"
    with zipfile.ZipFile(bundle, "w") as archive:
        for m in members(scene.bundle):
            info = zipfile.ZipInfo(m.name, (2026, 11, 24, 12, 0, 0))
            if "/files/" in m.name and flag == "bzip2":
                info.compress_type = zipfile.ZIP_BZIP2
            archive.writestr(info, m.data)
    if flag == "encrypted":  # the encryption bit, in the central directory entry of a files/ member
        raw = bytearray(bundle.read_bytes())
        at = raw.index(b"PK\x01\x02")
        while b"/files/" not in raw[at + 46 : at + 46 + int.from_bytes(raw[at + 28 : at + 30], "little")]:
            at = raw.index(b"PK\x01\x02", at + 4)
        raw[at + 8] |= 0x01
        bundle.write_bytes(bytes(raw))
    _refused(scene, bundle, rule)


def test_what_is_not_a_zip_is_refused(scene: Scene) -> None:
    junk = scene.work / "junk.zip"
    junk.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 8)
    _refused(scene, junk, "not_a_zip")
    folder = scene.work / "folder.zip"
    folder.mkdir()
    _refused(scene, folder, "not_a_file")
    code, data = cli_json("import", str(scene.work / "missing.zip"), "--codex-home", str(scene.home))
    assert code == 2 and data["errors"][0]["code"] == "not_found"


def test_the_limits_on_members_and_json_parts_are_enforced(scene: Scene, monkeypatch: pytest.MonkeyPatch) -> None:
    """The zip's directory is bounded before zipfile reads it, and a JSON part before it is parsed
    (lowered here so the test stays small; the real limits are in docs/security.md, "Bundles")."""
    monkeypatch.setattr(bundle_check, "MAX_MEMBERS", 10)
    _refused(scene, scene.bundle, "too_many_members")
    lying = bytearray(scene.bundle.read_bytes())  # the end record claims one member: they are counted
    end = lying.rindex(b"PK\x05\x06")
    lying[end + 8 : end + 12] = (1).to_bytes(2, "little") * 2
    (scene.work / "lying.zip").write_bytes(bytes(lying))
    _refused(scene, scene.work / "lying.zip", "too_many_members")
    monkeypatch.setattr(bundle_check, "MAX_MEMBERS", 250_000)
    monkeypatch.setattr(bundle_check, "MAX_JSON_PART", 100)
    _refused(scene, scene.bundle, "part_too_large")
    monkeypatch.setattr(bundle_check, "MAX_JSON_PART", 64 << 20)
    monkeypatch.setattr(bundle_check, "MAX_MANIFEST", 100)
    _refused(scene, scene.bundle, "manifest_too_large")


def test_staging_goes_through_the_path_guard(scene: Scene) -> None:
    """A home whose staging folder is a link to a folder outside: nothing is staged there."""
    (scene.home / "codex-sessions").mkdir()
    (scene.home / "codex-sessions" / "staging").symlink_to(scene.outside, target_is_directory=True)
    outside, rollouts = tree(scene.outside), tree(scene.home / "sessions")
    code, data = cli_json("import", str(scene.bundle), "--apply", "--codex-home", str(scene.home))
    assert code == 3 and data["errors"][0]["code"] == "outside_home", data
    assert tree(scene.outside) == outside and tree(scene.home / "sessions") == rollouts


def test_a_dated_folder_linked_outside_is_not_written_through(scene: Scene) -> None:
    """A target whose dated folder is a link outside the home: those threads are left alone."""
    manifest, _ = parts_of(scene.bundle)
    month = next(f["name"][8:15].replace("-", "/") for t in manifest["threads"] for f in t["files"]
                 if not f["archived"])
    folder = scene.home / "sessions" / month
    if folder.exists():
        shutil.rmtree(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.symlink_to(scene.outside, target_is_directory=True)
    outside = tree(scene.outside)
    code, data = cli_json("import", str(scene.bundle), "--apply", "--codex-home", str(scene.home))
    assert tree(scene.outside) == outside
    refused = data["data"]["plan"]["refused"]
    assert refused and all("outside the Codex home" in r["reason"] for r in refused), data


# The import runs as the only child of this small process, which reports that child's peak RSS
# (RUSAGE_CHILDREN of a process with one child is that child's own peak, whatever other
# processes the test session started before).
MEASURED = """
import json, resource, subprocess, sys
done = subprocess.run([sys.executable, "-m", "operations", *sys.argv[1:]], capture_output=True)
print(json.dumps({"exit": done.returncode, "stdout": done.stdout.decode(), "stderr": done.stderr.decode()[-4000:],
                  "maxrss": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""
MIB = 1 << 20


def _import_measured(scene: Scene, bundle: Path, *extra: str) -> tuple[int, dict[str, Any], int]:
    """(exit code, --json envelope, peak RSS in bytes) of an import run in a child process."""
    pytest.importorskip("resource")  # POSIX: there is no getrusage on Windows
    done = subprocess.run([sys.executable, "-c", MEASURED, "import", str(bundle), "--json",
                           "--codex-home", str(scene.home), *extra], capture_output=True, check=True, cwd=REPO)
    report = json.loads(done.stdout)
    unit = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    return report["exit"], json.loads(report["stdout"]), report["maxrss"] * unit


def _bomb(scene: Scene, *, declared: int, headers_claim: int | None = None) -> Path:
    """The real bundle with its first rollout followed by 1 GiB of zeros (about 5 MB compressed),
    declared in the manifest as `declared` bytes; the zip's own headers claim the true size, or
    `headers_claim`. Every other part and hash is as the export made it."""
    manifest, parts = parts_of(scene.bundle)
    tid, f = _first(manifest)
    name = f"threads/{tid}/files/{f['name']}"
    bomb, digest = zeros_bomb(parts.pop(name), 1024)
    reseal(manifest, parts)
    manifest["parts"][name] = {"sha256": digest, "size": declared}
    f["size"] = declared
    entries = [deflated(orjson.dumps(manifest)), *(deflated(data) for data in parts.values()), bomb]
    for entry, member_name in zip(entries, ["manifest.json", *parts, name], strict=True):
        entry.name = member_name
    if headers_claim is not None:
        bomb.size = headers_claim
    return write_raw_zip(scene.work / "bomb.zip", entries)


@pytest.mark.parametrize(("headers", "rule"), [("true", "size_mismatch"), ("lying", "damaged")])
def test_an_inflation_bomb_is_refused_without_inflating_it(scene: Scene, headers: str, rule: str) -> None:
    """A part declared as 5 KiB that inflates to 1 GiB: refused before it is inflated past 5 KiB,
    whether the zip's headers tell its true size or claim 5 KiB too; the import's peak memory
    stays far below the inflated size."""
    bundle = _bomb(scene, declared=5 * 1024, headers_claim=5 * 1024 if headers == "lying" else None)
    outside, home = tree(scene.outside), tree(scene.home)
    code, data, peak = _import_measured(scene, bundle, "--apply")
    assert code == 3 and data["errors"][0]["code"] == "bundle_refused" and data["errors"][0]["rule"] == rule, data
    assert peak < 200 * MIB, f"peak RSS {peak / MIB:.0f} MiB"
    assert tree(scene.outside) == outside and tree(scene.home) == home


def test_a_part_that_truly_holds_1_gib_is_checked_in_bounded_memory(scene: Scene) -> None:
    """The same 1 GiB, declared honestly: the check inflates and hashes all of it, in chunks, and
    the dry run's peak memory stays far below it."""
    manifest, parts = parts_of(scene.bundle)
    bundle = _bomb(scene, declared=1024 * MIB + len(parts[f"threads/{_first(manifest)[0]}/files/"
                                                          f"{_rollout_name(manifest)}"]))
    before = snapshot(scene.home)  # rows and rollouts: the dry run's audit reads the database (-shm)
    code, data, peak = _import_measured(scene, bundle)
    assert code == 0 and data["data"]["dry_run"] and len(data["data"]["plan"]["operations"]) == 6, data
    assert peak < 200 * MIB, f"peak RSS {peak / MIB:.0f} MiB"
    assert snapshot(scene.home) == before


def test_a_version_1_bundle_is_still_read(scene: Scene) -> None:
    """Bundles written before sizes were declared: {part: sha256}, no undecodable_columns."""
    manifest, parts = parts_of(scene.bundle)
    manifest["version"] = 1
    manifest["parts"] = {name: declared["sha256"] for name, declared in manifest["parts"].items()}
    for thread in manifest["threads"]:
        del thread["undecodable_columns"]
    bundle = write_zip(scene.work / "v1.zip", [Member("manifest.json", orjson.dumps(manifest)),
                                               *(Member(n, d) for n, d in parts.items())])
    code, data = cli_json("import", str(bundle), "--apply", "--codex-home", str(scene.home))
    assert code == 0 and data["data"]["counts"]["applied"] == 6, data


def test_staging_removes_what_it_wrote_when_a_file_does_not_come_out_as_planned(scene: Scene) -> None:
    """A file read again from the bundle that no longer matches what was checked: refused, and
    the files and folders staged so far are removed."""
    from dataclasses import replace

    from journal.guard import PathGuard
    from operations.bundle_check import open_bundle
    from operations.errors import BundleRefused
    from operations.repair.importing import ImportOptions, StagedFile, write_staging

    staging = scene.home / "codex-sessions" / "staging" / "run"
    before = {k: v for k, v in tree(scene.home).items() if v[0] != "dir"}
    with open_bundle(scene.bundle) as bundle:
        files = [f for t in bundle.threads for f in t.files]
        staged = [StagedFile(str(staging / f.name), str(scene.home / "archived_sessions" / f.name), f,
                             str(f.sha256), f.size, False) for f in files]
        staged[-1] = replace(staged[-1], sha256="0" * 64)
        with pytest.raises(BundleRefused) as refused:
            write_staging(staged, ImportOptions(), PathGuard([scene.home]))
    assert refused.value.details["rule"] == "changed_since_check"
    assert not (scene.home / "codex-sessions").exists()
    assert {k: v for k, v in tree(scene.home).items() if v[0] != "dir"} == before
