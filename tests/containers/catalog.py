"""The images kkot builds: one table that `make images`, the container tests and the
light-import test all read, so the tag, target, extra and entry point of an image are
written down once."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["IMAGES", "Image", "image"]


@dataclass(frozen=True)
class Image:
    """One image: how it is built and what must be true inside it."""

    name: str
    tag: str
    dockerfile: str
    target: str | None
    extras: tuple[str, ...]  # what `pip install ".[...]"` gets in this image
    entry_module: str  # the module its command runs; must import with only `extras`
    serving: bool  # serving images never carry torch


IMAGES: tuple[Image, ...] = (
    Image(
        "gateway",
        "kkot/gateway:local",
        "services/gateway/Dockerfile",
        None,
        (),
        "services.gateway.__main__",
        serving=True,
    ),
    Image(
        "web",
        "kkot/web:local",
        "services/web/Dockerfile",
        None,
        ("web",),
        "services.web.__main__",
        serving=True,
    ),
    Image(
        "was",
        "kkot/was:local",
        "services/was/Dockerfile",
        None,
        ("was",),
        "services.was.__main__",
        serving=True,
    ),
    Image(
        "model",
        "kkot/model:local",
        "services/model/Dockerfile",
        "serve",
        ("serve",),
        "services.model.__main__",
        serving=True,
    ),
    # The compose stack's AWS emulator: `kkot emulator` (moto server + the data stack).
    Image(
        "emulator",
        "kkot/emulator:local",
        "services/emulator/Dockerfile",
        None,
        ("emulator", "web", "infra"),  # `.[emulator]` includes kkot[web,infra]
        "services.cli",
        serving=True,
    ),
    Image(
        "model-train",
        "kkot/model-train:local",
        "services/model/Dockerfile",
        "train",
        ("serve", "train"),
        "services.model.train.__main__",
        serving=False,
    ),
)


def image(name: str) -> Image:
    """The image called `name` (KeyError if there is none)."""
    for candidate in IMAGES:
        if candidate.name == name:
            return candidate
    raise KeyError(name)
