"""`kkot data review` refuses what it cannot use with one line and exit code 1."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.cli import main


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "does not exist"),
        (["--similarity", "2"], "--similarity and --min-probability lie in (0, 1]"),
        (["--limit", "0"], "--limit >= 1"),
    ],
)
def test_unusable_data_or_options_exit_1_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    code = main(["data", "review", "--data", str(tmp_path / "missing"), *extra])
    assert code == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "var").exists()
