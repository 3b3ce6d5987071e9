"""The project's own catalog of display names and descriptions (Korean and English).

`flowers.json` covers the flower classes of the default dataset; it is validated by
`shared.contracts.model.Catalog` and copied into every trained model artifact by the
pipeline. `label_text()` looks a label up in several catalogs in order and falls back to
the label itself, so a model with labels nobody wrote text for (the default ImageNet
model's 1000 classes) still gets a readable name.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from shared.contracts.model import Catalog, CatalogEntry, Language, LocalizedText, fallback_entry

__all__ = ["CATALOG_RESOURCE", "flower_catalog", "label_text", "lookup_entry"]

CATALOG_RESOURCE = "flowers.json"


@cache
def flower_catalog() -> Catalog:
    """The project's flower catalog (read and validated once)."""
    raw = files(__package__).joinpath(CATALOG_RESOURCE).read_text(encoding="utf-8")
    return Catalog.model_validate_json(raw)


def lookup_entry(label: str, *catalogs: Catalog) -> CatalogEntry:
    """The first entry for `label` among `catalogs`; else one named after the label."""
    for catalog in catalogs:
        entry = catalog.get(label)
        if entry is not None:
            return entry
    return fallback_entry(label)


def label_text(label: str, language: Language, *catalogs: Catalog) -> LocalizedText:
    """Display name and description of `label` in `language` (English when missing)."""
    return lookup_entry(label, *catalogs).text(language)
