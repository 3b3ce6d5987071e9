"""Label overrides: the contract's rules, and how a training scan applies them by
content hash without touching the photo folder."""

from __future__ import annotations

import argparse
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.model.train.command import add_train_arguments, settings_from_args
from services.model.train.dataset import dataset_digest, scan_dataset
from services.model.train.errors import DatasetError
from services.model.train.overrides import read_overrides, summarise
from services.model.train.settings import TrainSettings
from shared.contracts.review import OVERRIDES_FILE, Decision, LabelOverride, LabelOverrides
from tests.train.helpers import generated_dataset

NOW = datetime(2026, 11, 30, tzinfo=UTC)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _override(path: Path, root: Path, decision: Decision, new: str | None = None) -> LabelOverride:
    rel = path.relative_to(root).as_posix()
    return LabelOverride(
        sha256=_sha(path),
        path=rel,
        label=rel.split("/")[0],
        decision=decision,
        new_label=new,
        decided_by="anonymous",
        decided_at=NOW,
    )


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return generated_dataset(tmp_path / "data", {"a": 4, "b": 4})


def test_relabel_needs_another_label_and_only_relabel_takes_one(data: Path) -> None:
    photo = data / "a" / "000.jpg"
    with pytest.raises(ValidationError):
        _override(photo, data, Decision.RELABEL)
    with pytest.raises(ValidationError):
        _override(photo, data, Decision.RELABEL, "a")
    with pytest.raises(ValidationError):
        _override(photo, data, Decision.EXCLUDE, "b")


def test_a_later_decision_replaces_the_earlier_one_about_the_same_photo(data: Path) -> None:
    photo = data / "a" / "000.jpg"
    first = LabelOverrides().decided(_override(photo, data, Decision.EXCLUDE))
    second = first.decided(_override(photo, data, Decision.RELABEL, "b"))
    assert [o.decision for o in second.overrides] == [Decision.RELABEL]
    assert second.effective() == {_sha(photo): "b"}
    with pytest.raises(ValidationError):
        LabelOverrides(overrides=[*first.overrides, *second.overrides])


def test_scan_moves_relabelled_photos_and_leaves_excluded_ones_out(data: Path) -> None:
    moved, dropped, kept = data / "a" / "000.jpg", data / "b" / "001.jpg", data / "b" / "002.jpg"
    overrides = LabelOverrides(
        overrides=[
            _override(moved, data, Decision.RELABEL, "b"),
            _override(dropped, data, Decision.EXCLUDE),
            _override(kept, data, Decision.KEEP),
        ]
    )
    scan = scan_dataset(data, min_images=1, overrides=overrides.effective())
    by_path = {ex.relpath: ex.label for ex in scan.examples}
    assert by_path["a/000.jpg"] == "b"
    assert "b/001.jpg" not in by_path
    assert by_path["b/002.jpg"] == "b"
    assert [s.path for s in scan.relabelled] == ["a/000.jpg"]
    assert scan.relabelled[0].reason == "a -> b"
    assert [s.path for s in scan.excluded] == ["b/001.jpg"]
    assert scan.overrides_matched == 2
    # The folder itself is untouched.
    assert moved.exists() and dropped.exists()


def test_relabelling_a_copy_resolves_its_label_conflict(data: Path) -> None:
    copy = data / "b" / "copy.jpg"
    copy.write_bytes((data / "a" / "001.jpg").read_bytes())
    assert {s.path for s in scan_dataset(data, min_images=1).conflicts_dropped} == {
        "a/001.jpg",
        "b/copy.jpg",
    }
    overrides = {_sha(copy): "b"}
    scan = scan_dataset(data, min_images=1, overrides=overrides)
    assert scan.conflicts_dropped == []
    # Both copies are now "b"; the second is an ordinary duplicate.
    assert {ex.label for ex in scan.examples if ex.sha256 == _sha(copy)} == {"b"}


def test_an_override_to_a_class_the_data_lacks_is_refused(data: Path) -> None:
    with pytest.raises(DatasetError, match="classes the data lacks: c"):
        scan_dataset(data, min_images=1, overrides={_sha(data / "a" / "000.jpg"): "c"})


def test_read_overrides_names_the_digest_and_refuses_a_bad_file(data: Path, tmp_path: Path) -> None:
    path = tmp_path / OVERRIDES_FILE
    overrides = LabelOverrides().decided(
        _override(data / "a" / "000.jpg", data, Decision.RELABEL, "b")
    )
    path.write_text(overrides.model_dump_json())
    read = read_overrides(path)
    assert read is not None and read.digest == hashlib.sha256(path.read_bytes()).hexdigest()
    applied = summarise(read, ["a/000.jpg: a -> b"], [], matched=1)
    assert (applied.decisions, len(applied.relabelled), applied.unmatched) == (1, 1, 0)
    path.write_text(json.dumps({"overrides": [{"sha256": "nope"}]}))
    with pytest.raises(DatasetError, match="not valid"):
        read_overrides(path)
    with pytest.raises(DatasetError, match="cannot read"):
        read_overrides(tmp_path / "missing.json")


def test_the_dataset_digest_names_the_overrides_too(data: Path) -> None:
    examples = scan_dataset(data, min_images=1).examples
    plain = dataset_digest(examples)
    assert dataset_digest(examples, None) == plain
    assert dataset_digest(examples, "0" * 64) != plain


def test_the_training_job_finds_an_overrides_channel_beside_train(tmp_path: Path) -> None:
    train = tmp_path / "data" / "train"
    train.mkdir(parents=True)
    assert TrainSettings(data_dir=train).resolved_overrides_file() is None
    channel = tmp_path / "data" / "overrides" / OVERRIDES_FILE
    channel.parent.mkdir()
    channel.write_text("{}")
    assert TrainSettings(data_dir=train).resolved_overrides_file() == channel
    explicit = tmp_path / "mine.json"
    assert TrainSettings(data_dir=train, overrides_file=explicit).resolved_overrides_file() == (
        explicit
    )


def test_kkot_train_takes_the_overrides_flag(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    add_train_arguments(parser)
    args = parser.parse_args(["--data", str(tmp_path), "--overrides", str(tmp_path / "o.json")])
    assert settings_from_args(args).resolved_overrides_file() == tmp_path / "o.json"
