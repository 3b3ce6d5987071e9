"""The project's flower catalog: valid, bilingual, and a sensible fallback for other labels."""

from __future__ import annotations

from shared.catalog import flower_catalog, label_text
from shared.contracts.model import Catalog, CatalogEntry, LocalizedText


def test_flower_catalog_covers_the_three_classes_in_korean_and_english() -> None:
    catalog = flower_catalog()
    labels = {entry.label for entry in catalog.entries}
    assert labels == {"astilbe", "bellflower", "black_eyed_susan"}
    for entry in catalog.entries:
        assert entry.ko is not None and entry.ko.name and entry.ko.description
        assert entry.en.name and entry.en.description
    assert label_text("astilbe", "ko", catalog).name == "노루오줌"
    assert label_text("bellflower", "ko", catalog).name == "초롱꽃"
    assert "루드베키아" in label_text("black_eyed_susan", "ko", catalog).name
    assert label_text("black_eyed_susan", "en", catalog).name == "Black-eyed Susan"


def test_unknown_labels_fall_back_to_the_next_catalog_then_the_label() -> None:
    model_catalog = Catalog(
        entries=[CatalogEntry(label="daisy", en=LocalizedText(name="Daisy", description="d"))]
    )
    assert label_text("daisy", "ko", flower_catalog(), model_catalog).name == "Daisy"
    assert label_text("golden_retriever", "en", flower_catalog(), model_catalog).name == (
        "golden retriever"
    )
