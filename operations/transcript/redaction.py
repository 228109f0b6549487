"""`transcript --redact`: the words of the conversation kept, who and where hidden.

As `audit --redact` does (with its hash): paths become `~` for the user's home and a
hash for every folder name (`.codex`, `sessions`, `archived_sessions` kept), thread ids and
any other UUID become `h:` hashes, and provider names are hashed. Git branch, commit and
repository are hashed; tool call ids are dropped. Paths are found in the text too (a `/`
that does not follow a word, a `:` or another `/`, so URLs are left alone; `C:\\…` and `~/…`),
as are UUIDs and the provider names this home and this session name. Secrets typed into a
message cannot be told from words: read a redacted transcript before you share it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

from operations.redact import hashed
from operations.transcript.model import SETTINGS, Entry, Header, Transcript

UUID = re.compile(r"(?<![0-9A-Za-z])[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
                  r"(?![0-9A-Za-z])")
PATH = re.compile(r"(?:~(?=[/\\])|(?<![\w.:/\\~<-])(?=/[^\s/])|(?<![\w])(?=[A-Za-z]:\\)|(?<![\w\\])(?=\\\\\w))"
                  r"[^\s'\"`<>(){}\[\],;|*?]+")
KEPT_NAMES = (".codex", "sessions", "archived_sessions")
TRAILING = ".:!?"


@dataclass(frozen=True)
class Redactor:
    user_home: str
    providers: frozenset[str]

    @classmethod
    def for_header(cls, header: Header, providers: Iterable[str] = (), user_home: str | None = None) -> Redactor:
        names = {p for p in (header.provider, *providers) if p}
        return cls(user_home or os.path.expanduser("~"), frozenset(names))

    def path(self, path: str) -> str:
        """A path of either spelling (the session may come from another OS): `~` for the user's
        home, each folder name hashed, the separators and a drive kept."""
        if path == "~" or path.startswith(("~/", "~\\")):
            sep, home, rest_text = path[1:2] or "/", "~", path[2:]
        else:
            windows = re.match(r"^[A-Za-z]:\\|^\\\\", path) is not None
            sep = "\\" if windows else "/"
            home = self.user_home.rstrip("\\/")
            fold = str.lower if windows else str
            if home and (fold(path) == fold(home) or fold(path).startswith(fold(home) + sep)):
                rest_text, home = path[len(home):], "~"
            else:
                home = path[:2] if windows and path[1] == ":" else ""
                rest_text = path[len(home):]
        rest = [self._name(p) for p in re.split(r"[\\/]+", rest_text) if p]
        if home == "~":
            return sep.join(["~", *rest])
        return home + sep + sep.join(rest)

    @staticmethod
    def _name(part: str) -> str:
        return part if part in KEPT_NAMES else hashed(part)

    def text(self, text: str) -> str:
        def one_path(match: re.Match[str]) -> str:
            found = match.group(0)
            core = found.rstrip(TRAILING)
            return self.path(core) + found[len(core):]

        text = PATH.sub(one_path, text)
        text = UUID.sub(lambda m: hashed(m.group(0).lower()), text)
        for name in sorted(self.providers, key=len, reverse=True):
            text = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w-])", hashed(name), text)
        return text

    def _maybe(self, value: str | None, how: str = "hash") -> str | None:
        if not value:
            return value
        return hashed(value) if how == "hash" else self.path(value) if how == "path" else self.text(value)

    def header(self, h: Header) -> Header:
        return replace(
            h, thread_id=hashed(h.thread_id), title=self.text(h.title), cwd=self._maybe(h.cwd, "path"),
            git_branch=self._maybe(h.git_branch), git_commit=self._maybe(h.git_commit),
            git_repository=self._maybe(h.git_repository), provider=self._maybe(h.provider),
            rollout_path=self.path(h.rollout_path), forked_from=self._maybe(h.forked_from),
            notes=tuple(self.text(n) for n in h.notes))

    def entry(self, e: Entry) -> Entry:
        if e.kind == SETTINGS and e.title == "provider":
            before, _, after = e.text.partition(" → ")
            text = f"{hashed(before)} → {hashed(after)}"
        else:
            text = self.text(e.text)
        thread = hashed(e.thread) if e.thread else ""
        return replace(e, text=text, title=self.text(e.title), call_id=None, thread=thread)

    def transcript(self, t: Transcript) -> Transcript:
        def entries() -> Iterator[Entry]:
            for entry in t.entries:
                yield self.entry(entry)

        return Transcript(self.header(t.header), entries())
