"""Generated homes for the benchmarks, cached under `benchmarks/out/` (ignored by git) by their spec.

A home of 50,000 sessions takes minutes to build; a benchmark that is run again reuses it when
the spec and the generator's sources are the same. Homes are built where they stay (rows hold
absolute paths), through the generator's own folder rule (fixtures/folder.py): a cached home is
replaced only if the generator made it. A home is only read by the benchmarks that use this
cache (audits and dry runs); benchmarks that write build a fresh home in a temporary folder.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fixtures.folder import claim_folder, read_marker, seal_folder  # noqa: E402
from fixtures.generator import HomeSpec, build_home  # noqa: E402

OUT = ROOT / "benchmarks" / "out"
SOURCES = ("fixtures/generator.py", "fixtures/rollout_lines.py")  # what a home's bytes depend on, with the spec


def spec_key(spec: HomeSpec) -> str:
    """A short digest of the spec and the generator's sources: equal keys, equal homes."""
    digest = hashlib.sha256(json.dumps(asdict(spec), default=str, sort_keys=True).encode())
    for source in SOURCES:
        digest.update((ROOT / source).read_bytes())
    return digest.hexdigest()[:12]


def cached_home(name: str, spec: HomeSpec) -> Path:
    """The home for `spec` under benchmarks/out/NAME-KEY, built once."""
    key = spec_key(spec)
    home = OUT / f"{name}-{key}"
    record = read_marker(home)
    if record is not None and record.get("complete") and record.get("key") == key:
        print(f"reusing {home.relative_to(ROOT)} (built in {record.get('seconds', '?')} s)", flush=True)
        return home
    print(f"building {home.relative_to(ROOT)} ({spec.sessions} sessions)...", flush=True)
    started = time.perf_counter()
    claim_folder(home)
    built = build_home(home, spec)
    seconds = round(time.perf_counter() - started, 1)
    seal_folder(home, spec, built.truth, key=key, seconds=seconds)
    print(f"built in {seconds} s", flush=True)
    return home


def audit_spec(sessions: int) -> HomeSpec:
    """The audit benchmark's home: two providers, a tenth archived, a tenth `codex exec`, 8 KB of
    instructions, 1% orphans and 0.5% moved files."""
    return HomeSpec(sessions=sessions, providers=("openai", "azure"), archived_share=0.1, exec_share=0.1,
                    instructions_chars=8000, damage={"orphan": sessions // 100, "moved_file": sessions // 200})


def interactive_spec(sessions: int) -> HomeSpec:
    """The `fix` dry run's home: the audit's, every session interactive (no `codex exec`), so that
    every thread is one the IDE lists or the fix must act on (half of them to migrate to azure)."""
    spec = audit_spec(sessions)
    spec.exec_share = 0.0
    return spec
