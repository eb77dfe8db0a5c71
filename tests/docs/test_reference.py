"""The reference pages generated from the code are current, and the hand-written ones
name everything the code has (error codes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelport import errors
from modelport.cli import docs_ref

from .blocks import ROOT

REFERENCE = ROOT / "docs" / "reference"


@pytest.mark.parametrize("name", sorted(docs_ref.PAGES))
def test_generated_page_is_current(name: str, tmp_path: Path) -> None:
    docs_ref.write_pages(tmp_path)
    fresh = (tmp_path / name).read_text(encoding="utf-8")
    committed = REFERENCE / name
    assert committed.is_file(), f"docs/reference/{name} is missing: run `make docs-ref`"
    assert committed.read_text(encoding="utf-8") == fresh, (
        f"docs/reference/{name} is out of date with the code: run `make docs-ref` "
        "(and describe what is new where the generator asks for text)"
    )


def test_every_setting_command_and_key_is_on_its_page() -> None:
    """Spelled out, so that a failure names what is missing."""
    from modelport.cli import main
    from modelport.config import Settings
    from modelport.repository.model_yaml import ModelConfig

    settings = (REFERENCE / "settings.md").read_text()
    for name in Settings.model_fields:
        assert f"### `{name}`" in settings, f"setting {name} is not documented"
    cli = (REFERENCE / "cli.md").read_text()
    for name, command in main.commands.items():
        assert f"## `modelport {name}`" in cli, f"command {name} is not documented"
        for sub in getattr(command, "commands", {}):
            assert f"## `modelport {name} {sub}`" in cli, f"command {name} {sub} missing"
    keys = (REFERENCE / "model-yaml.md").read_text()
    for field_name, field in ModelConfig.model_fields.items():
        assert f"| `{field.alias or field_name}` |" in keys, f"key {field_name} missing"


def error_classes() -> list[type[errors.ModelportError]]:
    found: list[type[errors.ModelportError]] = []
    todo: list[type[errors.ModelportError]] = [errors.ModelportError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def test_every_error_code_is_documented() -> None:
    page = (REFERENCE / "errors.md").read_text()
    for cls in error_classes():
        if cls.__module__.startswith("modelport"):
            assert f"`{cls.code}`" in page, f"{cls.__name__} ({cls.code}) is not in errors.md"
