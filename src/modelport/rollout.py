"""Which version answers a request that names none: a model's default policy, and its
rollout (a traffic split between aliases or versions, and a shadow version).

``latest`` is the newest ready version (an upload answers at once); an alias such as
``production`` answers only once the alias points at a version, so an upload with
``--alias staging`` goes live only when someone moves ``production``. A traffic split,
when set, decides instead of the policy: each request goes to one target, by a hash of
its route key (sticky) or at random.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from modelport.contracts import DefaultPolicy
from modelport.db.records import RolloutRecord
from modelport.errors import InvalidRequestError
from modelport.types import version_choice_error

__all__ = [
    "LATEST",
    "DefaultPolicy",
    "Rollout",
    "check_traffic",
    "pick_target",
    "policy_hint",
    "policy_of",
    "rollout_of",
]

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


#: A traffic split: (target, percent) pairs, percents summing to 100.
Traffic = tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class Rollout:
    """A model's rollout, as the database holds it (this process's copy)."""

    traffic: Traffic = ()
    shadow: str | None = None
    #: The share of requests copied to the shadow version.
    shadow_sample_rate: float = 1.0


def rollout_of(record: RolloutRecord) -> Rollout:
    """The database's rollout row as the registry holds it."""
    return Rollout(
        tuple((record.traffic or {}).items()),
        record.shadow,
        1.0 if record.shadow_sample_rate is None else record.shadow_sample_rate,
    )


def check_traffic(value: Any) -> Traffic:
    """A client's split, checked: ``{"production": 90, "candidate": 10}``; ``{}`` or None
    turns the split off. InvalidRequestError (400) naming what is wrong."""
    if value is None or value == {}:
        return ()
    if not isinstance(value, dict):
        raise InvalidRequestError(
            'traffic must be an object of targets and percents, e.g. {"production": 90, '
            '"candidate": 10}'
        )
    split: list[tuple[str, int]] = []
    for target, percent in value.items():
        problem = version_choice_error(target)
        if problem is not None or target == LATEST:
            raise InvalidRequestError(
                f"traffic target {target!r}: name an alias or a version number"
                + ("" if problem is None else f" ({problem})")
            )
        if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100:
            raise InvalidRequestError(
                f"traffic for {target!r} must be a whole percent from 0 to 100, not {percent!r}"
            )
        split.append((target, percent))
    total = sum(percent for _, percent in split)
    if total != 100:
        raise InvalidRequestError(f"traffic percents must sum to 100, not {total}")
    return tuple(split)


def pick_target(traffic: Traffic, route_key: str | None) -> str:
    """The target of one request: sticky by ``route_key``'s hash, else at random."""
    if route_key is None:
        point = random.random() * 100  # noqa: S311  routing, not security
    else:
        digest = hashlib.blake2b(route_key.encode(), digest_size=8).digest()
        point = int.from_bytes(digest) / 2**64 * 100
    for target, percent in traffic:
        point -= percent
        if point < 0:
            return target
    return next(target for target, percent in reversed(traffic) if percent > 0)
