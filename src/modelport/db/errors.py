"""The database's error, from the one error tree (kept importable from here)."""

from __future__ import annotations

from modelport.errors import DatabaseUnavailableError

__all__ = ["DatabaseUnavailableError"]
