"""Typed application state of the web service."""

from __future__ import annotations

import jinja2
from aiohttp import web

from services.web.live import Broadcaster
from services.web.model_cache import ModelCache
from services.web.review_store import ReviewStore
from services.web.settings import WebSettings
from services.web.was_client import WasClient
from shared.events import EventBus

SETTINGS = web.AppKey("settings", WebSettings)
WAS = web.AppKey("was", WasClient)
MODEL_CACHE = web.AppKey("model_cache", ModelCache)
JINJA = web.AppKey("jinja", jinja2.Environment)
BROADCASTER = web.AppKey("broadcaster", Broadcaster)
BUS = web.AppKey("bus", EventBus)
STATIC_VERSIONS = web.AppKey("static_versions", dict[str, str])
REVIEW = web.AppKey("review", ReviewStore)
