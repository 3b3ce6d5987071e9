"""Typed application state of WAS."""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp import web

from services.was.endpoint import EndpointClient
from services.was.model_info import ModelInfo
from services.was.service import ClassificationService
from services.was.settings import WasSettings
from services.was.store import ClassificationStore
from shared.events import EventBus
from shared.storage import BlobStore

SETTINGS = web.AppKey("settings", WasSettings)
# Protocols are not concrete classes, so their keys are typed by subscription.
BUS = web.AppKey[EventBus]("bus")
STORE = web.AppKey[ClassificationStore]("store")
BLOBS = web.AppKey[BlobStore]("blobs")
HTTP = web.AppKey("http", aiohttp.ClientSession)
ENDPOINT = web.AppKey("endpoint", EndpointClient)
MODEL_INFO = web.AppKey("model_info", ModelInfo)
SERVICE = web.AppKey("service", ClassificationService)
OPENAPI = web.AppKey[dict[str, Any]]("openapi")
