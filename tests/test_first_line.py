"""`read_first_line`: the audit's raw read of a rollout's first line agrees with a buffered
readline on every shape of file, and never blocks on or reads what is not a regular file."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from journal.fileio import FIRST_READ, NotRegularFile, read_first_line


def _readline(path: Path, limit: int) -> bytes:
    with path.open("rb") as handle:
        return handle.readline(limit).rstrip(b"\r\n")


@pytest.mark.parametrize("known_regular", [False, True])
def test_agrees_with_readline(tmp_path: Path, known_regular: bool) -> None:
    rng = random.Random(7)
    sizes = [0, 1, 100, FIRST_READ - 1, FIRST_READ, FIRST_READ + 1, 3 * FIRST_READ + 17, (1 << 20) + 5]
    for n, size in enumerate(sizes * 3):
        body = bytes(rng.choice(b"ab{}\r") for _ in range(size))
        ending = rng.choice([b"\n", b"\r\n", b"\n\n", b"", b"\nsecond line\n"])
        path = tmp_path / f"f{n}"
        path.write_bytes(body + ending)
        for limit in (10, FIRST_READ, FIRST_READ + 3, 1 << 22):
            line, st = read_first_line(path, limit, known_regular=known_regular)
            assert line == _readline(path, limit), (size, ending, limit)
            assert st.st_size == path.stat().st_size


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this OS")
def test_a_fifo_is_refused_without_blocking_even_when_the_walk_said_file(tmp_path: Path) -> None:
    fifo = tmp_path / "rollout-x.jsonl"
    os.mkfifo(fifo)
    for known_regular in (False, True):  # the fstat after the non-blocking open refuses it
        with pytest.raises(NotRegularFile) as raised:
            read_first_line(fifo, 100, known_regular=known_regular)
        assert raised.value.kind == "fifo"


def test_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises((NotRegularFile, IsADirectoryError, PermissionError)):
        read_first_line(tmp_path, 100, known_regular=True)
