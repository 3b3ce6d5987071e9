"""`kkot data review` refuses what it cannot use with one line and exit code 1; the
near-duplicate rule is the training folds', not an option."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.cli import main


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "does not exist"),
        (["--min-probability", "2"], "--min-probability lies in (0, 1]"),
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


def test_the_near_duplicate_rule_is_not_an_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The review and the folds share services.model.train.groups' rule; a threshold of
    # the review's own would let them disagree about which photos are twins.
    with pytest.raises(SystemExit) as exited:
        main(["data", "review", "--data", str(tmp_path), "--similarity", "0.9"])
    assert exited.value.code == 2
    assert "unrecognized arguments: --similarity" in capsys.readouterr().err
