"""The HTTP layer: decode each protocol, call the core, encode. Holds no model logic."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelport.api.app import create_app, create_app_from_env

__all__ = ["create_app", "create_app_from_env"]


def __getattr__(name: str) -> Any:
    # The app is imported on first use, not with the package: the supervisor of several
    # workers needs only a constant of api/recycling.py, and importing the whole web stack
    # for it cost each multi-worker start about two seconds of CPU before any worker ran.
    if name in __all__:
        from modelport.api import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
