"""YAML text -> a validated pydantic model, every problem a ModelLoadError naming the file.

Shared by model.yaml and routes.yaml, so both report problems the same way.
"""

from __future__ import annotations

from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from modelport.errors import ModelLoadError

__all__ = ["parse_yaml_mapping"]

M = TypeVar("M", bound=BaseModel)


def parse_yaml_mapping(text: str, schema: type[M], where: str, expected: str) -> M:
    """Validate YAML ``text`` against ``schema``; an empty file gives its defaults.

    ``expected`` says what the top level should be, for the message when it is not a mapping.
    """
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ModelLoadError(f"{where}: cannot read: {exc}") from exc
    if data is None:
        return schema()
    if not isinstance(data, dict):
        raise ModelLoadError(f"{where}: expected {expected}")
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ModelLoadError(f"{where}: {problems}") from exc
