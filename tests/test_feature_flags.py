"""The canary's storage feature flags: read from the real binaries, and the day one turns on."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from fixtures.feature_flags import Flag, parse, read_flags, report, storage

LISTED = """\
apps                                     stable             true
local_thread_store_compression           under development  false
local_thread_store_shared_compression    removed            false
sqlite                                   removed            true
"""


def test_a_storage_flag_turning_on_by_default_is_flagged() -> None:
    pinned = parse(LISTED)
    assert [f.name for f in storage(pinned)] == ["local_thread_store_compression",
                                                 "local_thread_store_shared_compression", "sqlite"]
    lines, turned_on = report(pinned, pinned)
    assert not turned_on and all(not line.startswith("!!") for line in lines)
    new = {**pinned, "local_thread_store_compression": Flag("local_thread_store_compression", "stable", True),
           "rollout_archive_v2": Flag("rollout_archive_v2", "experimental", False)}
    del new["local_thread_store_shared_compression"]
    lines, turned_on = report(new, pinned)
    assert turned_on
    assert any(line.startswith("!! local_thread_store_compression") and "was under development, default false"
               in line for line in lines), lines
    assert any("rollout_archive_v2" in line and line.endswith("new") for line in lines)
    assert any("local_thread_store_shared_compression" in line and "gone" in line for line in lines)


@pytest.mark.codex
@pytest.mark.parametrize("version", ["0.171.0", "0.169.0"])
def test_the_pinned_releases_keep_compression_off_by_default(codex_binary_for: Callable[[str], Path],
                                                             version: str) -> None:
    flags = read_flags(codex_binary_for(version))
    assert len(flags) > 50
    assert flags["local_thread_store_compression"] == Flag("local_thread_store_compression", "under development",
                                                           False)
    assert "local_thread_store_compression" in {f.name for f in storage(flags)}
