"""The settings file source: ``modelport.toml`` (``--config PATH``, else
``./modelport.toml``, else ``MODEL_DIR/modelport.toml``), top level or a [modelport] table.
Settings (config.py) ranks it below flags and the environment."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic_settings import PydanticBaseSettingsSource

from modelport.config import DEFAULT_CONFIG_FILE, ConfigError

__all__ = ["TomlFileSource"]


class TomlFileSource(PydanticBaseSettingsSource):
    """Reads the TOML file named by the higher-priority sources' ``config`` value."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        # Unused: __call__ returns the whole file at once.
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        explicit = self.current_state.get("config")
        if explicit is not None:
            path = Path(explicit).expanduser()
            if not path.is_file():
                raise ConfigError(f"config file '{path}' does not exist")
        elif DEFAULT_CONFIG_FILE.is_file():
            path = DEFAULT_CONFIG_FILE
        else:
            # The model folder's own settings (e.g. an example's CORS), so that
            # `modelport serve that/folder` needs no flag from any working directory.
            model_dir = Path(self.current_state.get("model_dir") or "models").expanduser()
            path = model_dir / DEFAULT_CONFIG_FILE.name
            if not path.is_file():
                return {}
        try:
            with path.open("rb") as handle:
                data = tomllib.load(handle)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config file '{path}': {exc}") from exc
        # A [modelport] table is accepted too, so the file can live inside a larger TOML;
        # then every setting must be in it (top-level ones would be silently ignored).
        if "modelport" not in data:
            return data
        table = data["modelport"]
        if not isinstance(table, dict):
            raise ConfigError(f"config file '{path}': [modelport] must be a table")
        # Other tables belong to other tools; plain keys beside [modelport] are ours.
        stray = sorted(key for key, value in data.items() if not isinstance(value, dict))
        if stray:
            raise ConfigError(
                f"config file '{path}': {stray} are outside the [modelport] table; "
                "put every setting inside it"
            )
        return table
