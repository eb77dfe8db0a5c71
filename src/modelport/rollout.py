"""Which version answers a request that names none: a model's default policy.

``latest`` is the newest ready version (an upload answers at once); an alias such as
``production`` answers only once the alias points at a version, so an upload with
``--alias staging`` goes live only when someone moves ``production``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

from modelport.contracts import DefaultPolicy

__all__ = ["LATEST", "DefaultPolicy", "policy_hint", "policy_of"]

LATEST = "latest"


def policy_of(
    model_default: str | None, server_default: str | None
) -> tuple[str, Literal["model.yaml", "server"]]:
    """(policy, where it comes from): model.yaml first, then the server setting."""
    if model_default is not None:
        return model_default, "model.yaml"
    if server_default is not None:
        return server_default, "server"
    return LATEST, "server"


def policy_hint(
    server_default: str | None, models: Iterable[tuple[str, str | None, Mapping[str, int]]]
) -> str | None:
    """One line for the start-up log when aliases exist but the newest version answers.

    ``models``: (name, model.yaml's default, aliases) of every model served.
    """
    if server_default is not None:
        return None
    named = sorted(
        (name, sorted(aliases)) for name, default, aliases in models if default is None and aliases
    )
    if not named:
        return None
    first_alias = "production" if "production" in named[0][1] else named[0][1][0]
    shown = ", ".join(name for name, _ in named[:3]) + (" ..." if len(named) > 3 else "")
    return (
        f"model(s) {shown} have aliases, but a request naming no version gets the newest "
        f"version, so an upload answers at once: set default_version = '{first_alias}' "
        f"(--default-version) or `default: {first_alias}` in model.yaml to answer with an "
        "alias instead"
    )
