"""The base class for every contract: strict about unknown fields on the way in."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Contract(BaseModel):
    """Contracts refuse unknown fields so a typo in a client is an error, not a silent no-op."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
