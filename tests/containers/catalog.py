"""The images the container tests build and check: the product's one table
(services/images.py), re-exported under the name the container tests import."""

from __future__ import annotations

from services.images import IMAGES, Image, image

__all__ = ["IMAGES", "Image", "image"]
