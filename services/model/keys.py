"""Typed application state of the model server."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from aiohttp import web

from services.model.batching import Batcher
from services.model.holder import ModelHolder
from services.model.predict import Classifier
from services.model.settings import ModelServerSettings

__all__ = ["BATCHER", "CLASSIFIER", "DECODE_POOL", "HOLDER", "SETTINGS"]

SETTINGS = web.AppKey("settings", ModelServerSettings)
HOLDER = web.AppKey("holder", ModelHolder)
BATCHER = web.AppKey("batcher", Batcher)
# Decoding and preprocessing run here; Pillow releases the GIL for most of the work.
DECODE_POOL = web.AppKey("decode_pool", ThreadPoolExecutor)
CLASSIFIER = web.AppKey("classifier", Classifier)
