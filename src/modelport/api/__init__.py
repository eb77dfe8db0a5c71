"""The HTTP layer: decode each protocol, call the core, encode. Holds no model logic."""

from modelport.api.app import create_app, create_app_from_env

__all__ = ["create_app", "create_app_from_env"]
