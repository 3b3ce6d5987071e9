"""The images kkot builds: one table that the release pipeline (services.ci.images),
`kkot aws deploy --build-images`, `make images`, the container tests and the
light-import test all read, so the Dockerfile, target, extras, entry point and ECR
repository of an image are written down once."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["IMAGES", "Image", "image"]


@dataclass(frozen=True)
class Image:
    """One image: how it is built, what must be true inside it and, for the images the
    stages run, where it is pushed (ECR repository kkot-<stage>-<repository>, tag
    <commit><tag_suffix>)."""

    name: str
    dockerfile: str
    target: str | None
    extras: tuple[str, ...]  # what `pip install ".[...]"` gets in this image
    entry_module: str  # the module its command runs; must import with only `extras`
    serving: bool  # serving images never carry torch
    repository: str | None = None  # None: never pushed (the emulator runs only locally)
    tag_suffix: str = ""
    deployed_by_ecs: bool = False

    @property
    def local_tag(self) -> str:
        """The tag `make images` gives it and docker-compose.yml runs."""
        return f"kkot/{self.name}:local"


IMAGES: tuple[Image, ...] = (
    Image(
        "gateway",
        "services/gateway/Dockerfile",
        None,
        (),
        "services.gateway.__main__",
        serving=True,
        repository="gateway",
        deployed_by_ecs=True,
    ),
    Image(
        "web",
        "services/web/Dockerfile",
        None,
        ("web",),
        "services.web.__main__",
        serving=True,
        repository="web",
        deployed_by_ecs=True,
    ),
    Image(
        "was",
        "services/was/Dockerfile",
        None,
        ("was",),
        "services.was.__main__",
        serving=True,
        repository="was",
        deployed_by_ecs=True,
    ),
    # SageMaker's images: serving (the endpoint, the evaluation step) and training,
    # both in the stage's model repository, told apart by the tag's suffix.
    Image(
        "model",
        "services/model/Dockerfile",
        "serve",
        ("serve",),
        "services.model.__main__",
        serving=True,
        repository="model",
    ),
    # The compose stack's AWS emulator: `kkot emulator` (moto server + the data stack).
    Image(
        "emulator",
        "services/emulator/Dockerfile",
        None,
        ("emulator", "web", "infra"),  # `.[emulator]` includes kkot[web,infra]
        "services.cli",
        serving=True,
    ),
    Image(
        "model-train",
        "services/model/Dockerfile",
        "train",
        ("serve", "train"),
        "services.model.train.__main__",
        serving=False,
        repository="model",
        tag_suffix="-train",
    ),
)


def image(name: str) -> Image:
    """The image called `name` (KeyError if there is none)."""
    for candidate in IMAGES:
        if candidate.name == name:
            return candidate
    raise KeyError(name)
