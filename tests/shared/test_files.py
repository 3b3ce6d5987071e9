"""`atomic_write`: the whole new file or the old one, private, folders made on demand,
no temporary file left behind when it fails."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from shared.files import atomic_write


@pytest.mark.parametrize("durable", [True, False])
def test_writes_and_replaces_a_file_in_a_new_folder(tmp_path: Path, durable: bool) -> None:
    target = tmp_path / "a" / "b" / "photo.jpg"
    atomic_write(target, b"first", durable=durable)
    atomic_write(target, b"second" * 10_000, durable=durable)
    assert target.read_bytes() == b"second" * 10_000
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(p.name for p in target.parent.iterdir()) == ["photo.jpg"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.mkdir()  # renaming a file over a folder fails after the data is written
    (target / "inside").write_bytes(b"old")
    with pytest.raises(IsADirectoryError):
        atomic_write(target, b"new")
    assert (target / "inside").read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["taken"]
