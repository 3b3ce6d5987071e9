"""The stacks, in deployment order; each module has one `build_<stack>() -> Template`."""

from __future__ import annotations

from collections.abc import Callable

from troposphere import Template

from cfn.capacity import Capacity, load_capacity
from cfn.stacks.application import build_application
from cfn.stacks.data import build_data_and_events
from cfn.stacks.delivery import build_delivery
from cfn.stacks.model import build_model
from cfn.stacks.network import build_network

__all__ = ["STACKS", "build_all"]

# Deployment order: later stacks import the exports of earlier ones. The model stack
# comes before the application because WAS's task role names the endpoint's ARN.
STACKS: dict[str, Callable[[], Template]] = {
    "network": build_network,
    "data-and-events": build_data_and_events,
    "model": build_model,
    "application": build_application,
    "delivery": build_delivery,
}


def build_all(capacity: Capacity | None = None) -> dict[str, Template]:
    """Every stack's template, keyed by stack name; the model and application stacks
    take their sizing defaults from `capacity` (default: cfn/capacity.json)."""
    chosen = capacity or load_capacity()
    sized: dict[str, Callable[[], Template]] = {
        "model": lambda: build_model(chosen),
        "application": lambda: build_application(chosen),
    }
    return {name: sized.get(name, build)() for name, build in STACKS.items()}
