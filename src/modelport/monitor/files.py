"""Where a version's reference sample lives: found without pandas, so that a server
whose models have none never imports it."""

from __future__ import annotations

from pathlib import Path

__all__ = ["REFERENCE_FILES", "find_reference"]

#: The reference sample's names in a version folder, in the order they are looked for.
REFERENCE_FILES = ("reference.csv", "reference.parquet")


def find_reference(folder: Path) -> Path | None:
    """The reference sample in a version folder, if there is one."""
    for name in REFERENCE_FILES:
        if (folder / name).is_file():
            return folder / name
    return None
