"""What web keeps about the deployed model between requests, so a page or a result card
does not fetch it again from WAS each time:

- the labels (205 KB of JSON with the default model), per model version and language:
  a record names the version that classified it, so a card asks WAS only the first
  time it meets a version;
- the current model (100–300 KB with its example photos as data URIs), revalidated
  with `If-None-Match` on its version: WAS answers 304 with no body while the same
  model is deployed, and the new model as soon as another one is.

Both are small, bounded maps: a handful of versions live at once at most (a deploy
shifts traffic from one to the next).
"""

from __future__ import annotations

from collections import OrderedDict

from services.web.was_client import WasClient, WasFailure
from shared.contracts.classification import CurrentModel, LabelInfo
from shared.contracts.model import Language

__all__ = ["ModelCache"]

# Versions times languages; old versions fall out first.
_MAX_LABEL_SETS = 16


class ModelCache:
    """Labels per (model version, language) and the current model."""

    def __init__(self, was: WasClient) -> None:
        self._was = was
        self._labels: OrderedDict[tuple[str, Language], list[LabelInfo]] = OrderedDict()
        # (ETag, model): the model does not depend on the language.
        self._current: tuple[str, CurrentModel] | None = None

    def cached_labels(self, version: str | None, language: Language) -> list[LabelInfo] | None:
        """The labels of `version` if web already has them (no call)."""
        return None if version is None else self._labels.get((version, language))

    async def labels(
        self, version: str | None, language: Language, request_id: str | None
    ) -> list[LabelInfo]:
        """The labels of model `version` (WAS is asked only on a miss, and then answers
        for the deployed model, which is cached under the version it names)."""
        if version is not None:
            known = self._labels.get((version, language))
            if known is not None:
                return known
        answer = await self._was.labels(language, request_id)
        key = (answer.model_version, language)
        self._labels[key] = answer.labels
        self._labels.move_to_end(key)
        while len(self._labels) > _MAX_LABEL_SETS:
            self._labels.popitem(last=False)
        return answer.labels

    async def current_model(self, language: Language, request_id: str | None) -> CurrentModel:
        """The deployed model; a 304 from WAS (same version) reuses the cached one."""
        known = self._current
        answer = await self._was.current_model(
            language, request_id, if_none_match=known[0] if known else None
        )
        if answer is None:  # 304: still the model we hold
            if known is None:
                raise WasFailure(502, "bad_answer", "WAS answered 304 to an unconditional GET")
            return known[1]
        self._current = answer
        return answer[1]
