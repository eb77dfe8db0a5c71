"""Write the documentation's generated reference pages from the code itself.

    python -m modelport.cli.docs_ref docs/reference      # what `make docs-ref` runs

- ``settings.md`` from ``Settings.model_fields`` and the ``serve`` command's flags;
- ``cli.md`` from the click commands under ``modelport``;
- ``model-yaml.md`` from the pydantic schemas of ``model.yaml`` and ``routes.yaml``;
- ``metrics.md`` from the counters ``GET /v1/admin/stats`` answers;
- ``endpoints.md`` from the app's OpenAPI document, the access policy and the gRPC table.

The pages are committed (readable in the repository, reviewed in diffs) and
``tests/docs/test_reference.py`` regenerates them into a temporary folder and fails when
they differ, so a setting, command, key, counter or endpoint cannot reach the code
without reaching the docs. Where the code has no text for something (a counter, a key
without a description), the text is here, and a missing one is an error, not a gap.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from modelport.cli.docs_ref.commands import cli_page
from modelport.cli.docs_ref.endpoints import endpoints_page
from modelport.cli.docs_ref.keys import model_yaml_page
from modelport.cli.docs_ref.settings import settings_page
from modelport.cli.docs_ref.stats import metrics_page
from modelport.cli.docs_ref.text import MissingDescriptionError

__all__ = ["PAGES", "MissingDescriptionError", "main", "render_pages", "write_pages"]

PAGES: dict[str, Callable[[], str]] = {
    "settings.md": settings_page,
    "cli.md": cli_page,
    "model-yaml.md": model_yaml_page,
    "metrics.md": metrics_page,
    "endpoints.md": endpoints_page,
}


def render_pages() -> dict[str, str]:
    """File name -> the page's text."""
    return {name: make() for name, make in PAGES.items()}


def write_pages(target: Path) -> list[Path]:
    """Write every generated page into ``target``; returns the paths written."""
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_pages().items():
        path = target / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.stderr.write("usage: python -m modelport.cli.docs_ref TARGET_DIR\n")
        return 2
    for path in write_pages(Path(args[0])):
        sys.stdout.write(f"wrote {path}\n")
    return 0
