"""`transcript`: a session as a person reads it, from generated homes and rollouts shaped like the
real Codex's (the real binaries' own files are read in test_codex_transcript.py)."""

from __future__ import annotations

import os
import shutil
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import orjson
import pytest
import zstandard

from fixtures.generator import HomeSpec, build_home
from operations.home import discover
from operations.redact import hashed
from operations.transcript import Header, Redactor, build_transcript, index_home, render_html
from tests.helpers import cli, cli_json
from tests.transcript_helpers import Rollout, check_safe_page, make_home, thread_id

EVIL = '<script>alert(1)</script> and <img src="https://evil.example/x.png"> and [x](https://evil.example/y)'


def entries(home: Path, ref: str, *extra: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    result = cli("transcript", ref, "--codex-home", str(home), "-f", "json", *extra)
    assert result.exit_code == 0, result.output
    data = orjson.loads(result.stdout)
    assert data["format"] == "codex-sessions-transcript" and data["version"] == 1
    return data["header"], data["entries"]


def texts(items: list[dict[str, Any]], kind: str) -> list[str]:
    return [e["text"] for e in items if e["kind"] == kind]


def tree(root: Path) -> dict[str, tuple[str, int]]:
    """Every file and folder under root: bytes (files) and mtime: what "unchanged" means. SQLite's
    `-wal`/`-shm` are left out: any reader of a WAL database makes them (the audit's, Codex's)."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if rel.endswith(("-wal", "-shm")):
            continue
        out[rel] = (path.read_bytes().hex() if path.is_file() else "dir", path.stat().st_mtime_ns)
    return out


@pytest.mark.parametrize("version", ["0.128.0", "0.169.0", "0.171.0"])
def test_every_session_of_a_generated_home_reads_in_order(tmp_path: Path, version: str) -> None:
    """Legacy (0.128) and paginated (0.169, 0.171) rollouts; archived, other-provider and orphan
    sessions alike: the user's and the assistant's words, in order, with model and provider."""
    built = build_home(tmp_path / "home", HomeSpec(version=version, sessions=8, turns=2, archived_share=0.3,
                                                   damage={"orphan": 2, "plain_and_zst": 1}))
    before = tree(built.root)
    orphans = set(built.truth["orphan"])
    archived = {s.id for s in built.sessions.values() if s.archived}
    assert orphans and archived  # the spec makes both kinds
    for s in built.sessions.values():
        header, items = entries(built.root, s.id)
        assert texts(items, "user") == [s.prompt, "follow-up 1"]
        assert texts(items, "assistant") == ["Done.", "Done."]
        assert header["thread_id"] == s.id and header["provider"] == s.provider and header["cwd"] == s.cwd
        assert header["model"] == "gpt-5"
        assert header["has_row"] == (s.id not in orphans)
        assert header["archived"] == (s.id in archived)
        assert not any("environment_context" in e["text"] for e in items)  # Codex's injected context is not a message
    assert tree(built.root) == before  # read-only: not a byte, not an mtime


def write_tool_session(home: Path) -> str:
    tid = thread_id(1)
    (Rollout(tid).meta().turn_context().context_message().user(EVIL)
     .reasoning("**Listing** the folder first", "gAAAA-SECRET-ENCRYPTED")
     .tool("seq 1 5000", "".join(f"{n}\n" for n in range(1, 5001)))
     .tool("echo ```fenced```", "out ``` with ```` backticks", call_id="call_2")
     .assistant("Listed. " + EVIL).write(home))
    return tid


def test_tool_calls_folded_and_shortened_reasoning_summaries_only(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    tid = write_tool_session(home)
    _header, items = entries(home, tid)
    assert [e["kind"] for e in items] == ["user", "reasoning", "tool_call", "tool_output", "tool_call", "tool_output",
                                          "assistant"]
    output = items[3]
    assert output["title"] == "exec_command" and output["omitted"] > 20_000
    assert output["text"].startswith("1\n2\n") and output["text"].endswith("4999\n5000")
    assert len(output["text"]) < 5_000
    assert items[1]["text"] == "**Listing** the folder first"
    for fmt in ("markdown", "html", "json"):
        shown = cli("transcript", tid, "--codex-home", str(home), "-f", fmt).stdout
        assert "SECRET" not in shown and "encrypted" not in shown
        assert "Listing" in shown and "seq 1 5000" in shown
    markdown = cli("transcript", tid, "--codex-home", str(home)).stdout
    assert "<details><summary>Tool call: exec_command" in markdown
    assert "`````text\nout ``` with ```` backticks\n`````" in markdown  # a fence longer than any run inside


def test_html_is_one_safe_page_that_escapes_everything(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    tid = write_tool_session(home)
    page = cli("transcript", tid, "--codex-home", str(home), "-f", "html").stdout
    parsed = check_safe_page(page, '<script>alert(1)</script>', '<img src="https://evil.example/x.png">',
                             "Listed. <script>")
    assert ("meta", [("name", "viewport"), ("content", "width=device-width, initial-scale=1")]) in parsed.tags
    csp = [dict(a) for t, a in parsed.tags if t == "meta" and dict(a).get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in str(csp[0]["content"])
    assert "style" in parsed.tag_names and "details" in parsed.tag_names
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "@media (max-width" in page  # one column on a phone


def test_compaction_settings_and_interruptions_are_marked(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    tid = thread_id(2)
    r = Rollout(tid).meta().turn_context("gpt-5").user("one").assistant("first answer")
    r.compacted("The user asked for one thing; it was done.").turn_context("o3")
    r.add("event_msg", {"type": "thread_settings_applied", "thread_id": tid,
                        "thread_settings": {"model": "o3", "model_provider_id": "mockB"}})
    r.user("two").add("event_msg", {"type": "turn_aborted", "reason": "interrupted"}).write(home)
    _header, items = entries(home, tid)
    assert [(e["kind"], e.get("title", "")) for e in items] == [
        ("user", ""), ("assistant", ""), ("compaction", "Context compacted"), ("settings", "model"),
        ("settings", "provider"), ("user", ""), ("note", "Interrupted")]
    assert items[2]["text"] == "The user asked for one thing; it was done."
    assert items[3]["text"] == "gpt-5 → o3" and items[4]["text"] == "mockA → mockB"


def fork_family(home: Path) -> tuple[str, str, str]:
    """P, then F forked from P after P's second answer, then G forked from F; P went on after F."""
    p, f, g = thread_id(10), thread_id(11), thread_id(12)
    parent = Rollout(p, provider="mockB").meta().turn_context().user("p-one").assistant("p-answer-one")
    parent.user("p-two").assistant("p-answer-two")
    end_p = len(parent.data())
    parent.user("p-after-the-fork").assistant("p-later")
    parent.write(home, second=1)
    fork = Rollout(f).meta(forked_from_id=p, history_base={"thread_id": p, "end_ordinal_exclusive": 99,
                                                           "end_byte_offset": end_p})
    fork.turn_context().user("f-own").assistant("f-answer")
    end_f = len(fork.data())
    fork.user("f-after").assistant("f-later").write(home, second=2)
    Rollout(g).meta(forked_from_id=f, history_base={"thread_id": f, "end_byte_offset": end_f}) \
        .turn_context().user("g-own").assistant("g-answer").write(home, second=3)
    return p, f, g


def test_forks_read_their_inherited_history_up_to_the_fork(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    p, f, g = fork_family(home)
    header, items = entries(home, g)
    assert header["forked_from"] == f and header["fork_kind"] == "history_base"
    assert texts(items, "user") == ["p-one", "p-two", "f-own", "g-own"]  # never what P or F said after the fork
    inherited = [e["text"] for e in items if e.get("inherited") and e["kind"] == "user"]
    assert inherited == ["p-one", "p-two", "f-own"]
    assert [e["thread"] for e in items if e["kind"] == "user"] == [p, p, f, g]
    forks = [e for e in items if e["kind"] == "fork"]
    assert [e["title"] for e in forks] == ["Inherited history", "Forked", "Inherited history", "Forked"]
    settings = [e["text"] for e in items if e["kind"] == "settings"]
    assert settings == ["mockB → mockA"]  # P ran under another provider than its forks
    compressed = home / "sessions/2026/11/30" / f"rollout-2026-11-30T10-00-01-{p}.jsonl"
    raw = compressed.read_bytes()
    Path(str(compressed) + ".zst").write_bytes(zstandard.ZstdCompressor(level=3).compress(raw))
    compressed.unlink()  # the parent compressed, as Codex's cold storage does: offsets count decompressed bytes
    assert texts(entries(home, g)[1], "user") == ["p-one", "p-two", "f-own", "g-own"]
    header_p, items_p = entries(home, p)
    assert header_p["compressed"] and texts(items_p, "user") == ["p-one", "p-two", "p-after-the-fork"]


def test_a_fork_whose_parent_is_gone_or_loops_is_marked_not_guessed(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    p, f, _g = fork_family(home)
    (home / "sessions/2026/11/30" / f"rollout-2026-11-30T10-00-01-{p}.jsonl").unlink()
    _header, items = entries(home, f)
    assert items[0]["kind"] == "fork" and items[0]["title"] == "Inherited history not found" and p in items[0]["text"]
    assert texts(items, "user") == ["f-own", "f-after"]
    a, b = thread_id(20), thread_id(21)
    Rollout(a).meta(history_base={"thread_id": b, "end_byte_offset": 10_000}).user("a-own").write(home, 4)
    Rollout(b).meta(history_base={"thread_id": a, "end_byte_offset": 10_000}).user("b-own").write(home, 5)
    _header, items = entries(home, a)
    assert texts(items, "user")[-1] == "a-own"
    assert any(e["title"] == "Fork chain cut" for e in items)


def test_a_legacy_fork_marks_the_history_codex_copied_into_it(tmp_path: Path) -> None:
    """A fork of a legacy thread holds a copy of the parent's history (seen with the real 0.171):
    inherited up to the fork's first message of its own."""
    home = make_home(tmp_path)
    p, f = thread_id(30), thread_id(31)
    Rollout(p, legacy=True).meta().turn_context().user("legacy one").assistant("legacy reply").write(home, 1)
    fork = Rollout(f, legacy=True).meta(forked_from_id=p).turn_context().user("legacy one").assistant("legacy reply")
    fork.turn_context().user("my own question").assistant("my own answer").write(home, 2)
    header, items = entries(home, f)
    assert header["fork_kind"] == "copied"
    assert [(e["kind"], bool(e.get("inherited"))) for e in items] == [
        ("fork", True), ("user", True), ("assistant", True), ("fork", False), ("user", False), ("assistant", False)]
    assert items[1]["thread"] == p and items[4]["text"] == "my own question"


def test_thread_references_that_name_nothing_or_several_are_usage_errors(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    for n in (40, 41):
        Rollout(thread_id(n)).meta().user(f"session {n}").write(home, n - 40)
    for ref, code in (("", "usage"), (thread_id(40)[:20], "usage"), ("ffff", "not_found")):
        status, data = cli_json("transcript", ref, "--codex-home", str(home))
        assert status == 2 and data["errors"][0]["code"] == code, data
    status, data = cli_json("transcript", thread_id(40)[:20], "--codex-home", str(home))
    assert set(data["errors"][0]["candidates"]) == {thread_id(40), thread_id(41)}
    status, data = cli_json("transcript", thread_id(41).upper(), "--codex-home", str(home))
    assert status == 0 and data["data"]["header"]["thread_id"] == thread_id(41)
    assert [e["text"] for e in data["data"]["entries"]] == ["session 41"]


def test_output_file_is_new_and_outside_the_home(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    tid = write_tool_session(home)
    before = tree(home)
    target = tmp_path / "out" / "session.html"
    target.parent.mkdir()
    status, data = cli_json("transcript", tid, "--codex-home", str(home), "-f", "html", "-o", str(target))
    assert status == 0 and data["data"]["written"] == str(target) and data["data"]["entries"] == 7
    assert target.read_text(encoding="utf-8") == cli("transcript", tid, "--codex-home", str(home), "-f",
                                                     "html").stdout
    target.write_text("mine")
    status, data = cli_json("transcript", tid, "--codex-home", str(home), "-o", str(target))
    assert status == 3 and data["errors"][0]["code"] == "output_refused"
    assert target.read_text() == "mine"  # never overwritten
    for inside in (home / "t.md", home / "sessions" / "t.md"):
        status, data = cli_json("transcript", tid, "--codex-home", str(home), "-o", str(inside))
        assert status == 3 and data["errors"][0]["code"] == "output_refused" and not inside.exists()
    status, data = cli_json("transcript", tid, "--codex-home", str(home), "-f", "pdf")
    assert status == 2
    assert tree(home) == before


@pytest.mark.skipif(sys.platform == "win32", reason="a symlink needs privileges on Windows")
def test_output_through_a_symlink_into_the_home_is_refused(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    tid = write_tool_session(home)
    (tmp_path / "link").symlink_to(home, target_is_directory=True)
    status, data = cli_json("transcript", tid, "--codex-home", str(home), "-o", str(tmp_path / "link" / "t.md"))
    assert status == 3 and data["errors"][0]["code"] == "output_refused"
    assert not (home / "t.md").exists()  # a symlink into the home is the home


def test_redacted_paths_of_every_spelling() -> None:
    header = Header("x", "t", None, None, None, None, None, None, "acme", None, None, None, None, "", False, "dated",
                    True, False)
    posix = Redactor.for_header(header, user_home="/home/ann")
    windows = Redactor.for_header(header, user_home="C:\\Users\\ann")
    assert posix.text("see /home/ann/work/x.py and ~/notes") == \
        f"see ~/{hashed('work')}/{hashed('x.py')} and ~/{hashed('notes')}"
    assert windows.text("see C:\\Users\\ann\\work\\x.py and D:\\data\\y.") == \
        f"see ~\\{hashed('work')}\\{hashed('x.py')} and D:\\{hashed('data')}\\{hashed('y')}."
    assert posix.text("https://example.com/a/b, </b> a/b 1/2 on acme") == \
        f"https://example.com/a/b, </b> a/b 1/2 on {hashed('acme')}"


@pytest.mark.skipif(sys.platform == "win32", reason="the sample's paths are spelled as on Linux and macOS")
def test_redact_hides_paths_ids_and_providers_and_keeps_the_words(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    user_home = tmp_path / "user-home"
    monkeypatch.setenv("HOME", str(user_home))
    home = make_home(tmp_path)
    tid = thread_id(50)
    cwd = str(user_home / "clients" / "acme-secret")
    (Rollout(tid, cwd=cwd, provider="acme-gateway").meta().turn_context().context_message()
     .user(f"look in {cwd}/src and at /srv/acme-data/x.csv, thread {thread_id(51)} on acme-gateway")
     .tool(f"ls {cwd}", f"{cwd}/README.md\nhttps://example.com/a/b stays").assistant("Found it.").write(home))
    for fmt in ("markdown", "html", "json"):
        shown = cli("transcript", tid, "--codex-home", str(home), "-f", fmt, "--redact").stdout
        for secret in ("acme-secret", "clients", "acme-data", "acme-gateway", tid, thread_id(51), str(user_home),
                       "secret-branch", "example.com/u/p"):
            assert secret not in shown, (fmt, secret)
        assert hashed(tid) in shown and hashed(thread_id(51)) in shown and hashed("acme-gateway") in shown
        assert "look in ~/" in shown and "Found it." in shown and "https://example.com/a/b stays" in shown


def test_damaged_lines_and_a_broken_compressed_stream_are_noted(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    tid = thread_id(60)
    path = Rollout(tid).write(home)
    data = Rollout(tid).meta().user("before the damage").assistant("ok").data() + b"{not json\n[1]\n" + \
        Rollout(tid).user("after the damage").data()
    path.write_bytes(data)
    _header, items = entries(home, tid)
    assert texts(items, "user") == ["before the damage", "after the damage"]
    assert items[-1]["title"] == "Damaged lines" and items[-1]["text"].startswith("2 line(s)")
    many = b"".join(Rollout(tid).user(f"message {n} " + os.urandom(64).hex()).data() for n in range(4000))
    whole = zstandard.ZstdCompressor(level=3).compress(data + many)
    zst = Path(str(path) + ".zst")
    zst.write_bytes(whole[: len(whole) * 3 // 4])  # a copy cut short
    path.unlink()
    _header, items = entries(home, tid)
    assert [e["title"] for e in items if e["kind"] == "note"] == ["Rollout cut short", "Damaged lines"]
    shown = texts(items, "user")
    assert shown[:2] == ["before the damage", "after the damage"] and 100 < len(shown) < 4002
    zst.write_bytes(whole)
    assert len(texts(entries(home, tid)[1], "user")) == 4002


def _peak_while_rendering(home: Path, turns: int) -> tuple[int, int]:
    """(peak of Python allocations while a rollout of `turns` turns, each with a 200 KB tool output,
    is rendered as HTML; the rollout's size)."""
    tid = thread_id(70 + turns)
    r = Rollout(tid).meta().turn_context()
    big = "x" * 79 + "\n"
    for n in range(turns):
        r.user(f"question {n}").tool(f"cat big-{n}", big * 2500, call_id=f"call_{n}").assistant(f"answer {n}")
    size = r.write(home, second=turns % 60).stat().st_size
    del r
    index = index_home(discover(home))
    written = 0

    def sink(text: str) -> None:
        nonlocal written
        written += len(text)

    tracemalloc.start()
    try:
        count = render_html(build_transcript(index, tid), sink)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 4 * turns and written < 12_000 * turns  # outputs shortened
    return peak, size


def test_memory_stays_bounded_on_a_large_rollout(tmp_path: Path) -> None:
    """The rollout is streamed: three times the file, the same peak (a few lines' worth)."""
    home = make_home(tmp_path)
    small_peak, small_size = _peak_while_rendering(home, 40)
    big_peak, big_size = _peak_while_rendering(home, 120)
    assert big_size > 24_000_000 and big_size > 2.9 * small_size
    assert big_peak < small_peak * 1.3 + 500_000, (small_peak, big_peak)
    assert big_peak < big_size / 4, (big_peak, big_size)


def test_json_envelope_streams_the_structured_transcript(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    tid = write_tool_session(home)
    status, data = cli_json("transcript", tid, "--codex-home", str(home))
    assert status == 0 and data["command"] == "transcript" and data["status"] == "ok"
    assert data["data"]["header"]["thread_id"] == tid and len(data["data"]["entries"]) == 7
    assert data["data"]["entries"][0] == {"kind": "user", "time": data["data"]["entries"][0]["time"], "text": EVIL,
                                          "thread": tid}


def test_a_row_whose_rollout_is_gone_and_a_row_into_another_home(tmp_path: Path) -> None:
    built = build_home(tmp_path / "home", HomeSpec(version="0.171.0", sessions=6, damage={"missing_file": 1,
                                                                                          "outside_home": 1}))
    (missing,) = built.truth["missing_file"]
    status, data = cli_json("transcript", missing, "--codex-home", str(built.root))
    assert status == 2 and "exists nowhere" in data["errors"][0]["message"]
    (outside,) = built.truth["outside_home"]
    header, items = entries(built.root, outside)
    assert texts(items, "user") == [built.sessions[outside].prompt]
    assert header["rollout_path"].startswith(str(built.root)) or header["location"] == "outside_home"
    shutil.rmtree(built.root / "sessions")
    assert os.path.isdir(built.root)


def test_a_rollout_of_the_format_before_september_2025_still_reads(tmp_path: Path) -> None:
    """Bare ResponseItems, one a line, after a first line of {id, timestamp, instructions}: current
    Codex cannot read them (the audit says `old_format`), the transcript can."""
    home = make_home(tmp_path)
    tid = thread_id(80)
    lines: list[dict[str, Any]] = [
        {"id": tid, "timestamp": "2025-06-01T10:00:00.000Z", "instructions": "old",
         "git": {"branch": "old-main"}},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "<environment_context>\n"
                                                         "  <cwd>/old</cwd>\n</environment_context>"}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "an old question"}]},
        {"record_type": "state"},
        {"type": "function_call", "name": "shell", "arguments": '{"command":["bash","-lc","ls"]}', "call_id": "c1"},
        {"type": "function_call_output", "call_id": "c1", "output": {"content": "README.md", "success": True}},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "an old answer"}]},
    ]
    path = home / "sessions/2025/06/01" / f"rollout-2025-06-01T10-00-00-{tid}.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    header, items = entries(home, tid)
    assert [(e["kind"], e["text"]) for e in items] == [("user", "an old question"), ("tool_call", "ls"),
                                                       ("tool_output", "README.md"), ("assistant", "an old answer")]
    assert header["created"] == "2025-06-01T10:00:00.000Z" and header["git_branch"] == "old-main"
    assert any("before September 2025" in note for note in header["notes"])


def test_the_header_says_why_codex_hides_a_session(tmp_path: Path) -> None:
    home = make_home(tmp_path)  # config.toml: model_provider = "mockA"
    Rollout(thread_id(90), provider="mockB").meta().user("made elsewhere").write(home)
    header, _ = entries(home, thread_id(90))
    assert header["provider"] == "mockB"
    assert any("Made under provider mockB" in n and "now mockA" in n for n in header["notes"])
    assert any("orphan" in n for n in header["notes"])
