"""The settings page, from ``Settings.model_fields`` and how ``serve`` spells each flag."""

from __future__ import annotations

import click
from pydantic.fields import FieldInfo

from modelport.cli.docs_ref.text import (
    GENERATED,
    MissingDescriptionError,
    constraints,
    default_text,
    one_line,
    type_name,
    with_bounds,
)

__all__ = ["SETTING_GROUPS", "settings_page"]

#: Sections of the settings page; a setting listed in none lands in "Other settings".
SETTING_GROUPS: list[tuple[str, list[str]]] = [
    (
        "Server",
        [
            "model_dir",
            "config",
            "host",
            "port",
            "workers",
            "max_requests",
            "max_worker_memory_mb",
            "engine",
            "replicas",
            "autoscale",
            "ray_address",
            "grpc_port",
            "default_model",
            "default_version",
            "route_key_parameter",
            "log_level",
            "access_log",
            "pid_file",
            "watch",
            "watch_interval",
        ],
    ),
    (
        "Predictions and batching",
        [
            "request_timeout",
            "max_body_size",
            "inference_threads",
            "batching",
            "max_batch_size",
            "max_latency_ms",
            "max_queue_size",
            "max_queue_wait_ms",
            "max_concurrent_requests",
        ],
    ),
    (
        "Database and Redis",
        ["data_dir", "database_url", "database_optional", "redis_url", "sync_interval"],
    ),
    (
        "Access and security",
        [
            "admin_token",
            "api_token",
            "allowed_hosts",
            "cors_origins",
            "max_upload_size",
            "allow_pickle_uploads",
            "upload_trusted_types",
            "proxy_headers",
            "forwarded_allow_ips",
            "header_timeout",
            "body_timeout",
            "max_connections",
            "keep_alive_timeout",
        ],
    ),
    (
        "Prediction log",
        [
            "log_predictions",
            "log_sample_rate",
            "log_inputs",
            "log_retention_days",
            "log_max_input_bytes",
            "log_buffer_size",
            "log_buffer_rows",
            "log_flush_interval",
        ],
    ),
    (
        "Response cache",
        ["cache", "cache_ttl", "cache_max_entries", "cache_max_entry_size", "cache_namespace"],
    ),
]

SETTINGS_INTRO = """\
# Settings

Every setting can be given four ways; the first that gives it wins:

1. a flag of `modelport serve` (`--request-timeout 30`);
2. an environment variable `MODELPORT_<NAME>` (`MODELPORT_REQUEST_TIMEOUT=30`);
3. the TOML file: `--config PATH`, else `./modelport.toml` when it exists, else
   `MODEL_DIR/modelport.toml` (so a model folder can carry its own settings), with the keys
   at the top level or all under a `[modelport]` table;
4. the default below.

```toml
# modelport.toml
model_dir = "/srv/models"
port = 8080
request_timeout = 30
cors_origins = ["https://app.example.com"]
```

Lists (`cors_origins`, `allowed_hosts`, ...) are TOML arrays in the file and
comma-separated text in a flag or an environment variable. An invalid setting (an unknown
TOML key, a value out of range, a `--config` file that does not exist) stops the command
at once with exit code 2 and a message naming the setting. `modelport serve --help` prints
this list too.
"""


def _serve_flags() -> dict[str, str]:
    """Setting name -> how ``modelport serve`` spells it (from the command itself)."""
    from modelport.cli import main

    serve = main.commands["serve"]
    flags: dict[str, str] = {}
    for param in serve.params:
        if param.name is None:
            continue
        if isinstance(param, click.Argument):
            flags[param.name] = f"argument `{param.human_readable_name}`"
        elif isinstance(param, click.Option):
            spelled = [*param.opts, *param.secondary_opts]
            flags[param.name] = " / ".join(f"`{opt}`" for opt in spelled)
    # Set through the argument: an object store's URL as MODEL_DIR.
    flags["model_store"] = "argument `MODEL_DIR` as `s3://...`"
    return flags


def settings_page() -> str:
    from modelport.config import Settings

    fields: dict[str, FieldInfo] = dict(Settings.model_fields)
    flags = _serve_flags()
    grouped = [(title, [n for n in names if n in fields]) for title, names in SETTING_GROUPS]
    listed = {n for _, names in grouped for n in names}
    other = [n for n in fields if n not in listed]
    if other:
        grouped.append(("Other settings", other))
    out = [GENERATED, SETTINGS_INTRO]
    for title, names in grouped:
        out.append(f"\n## {title}\n")
        for name in names:
            field = fields[name]
            if not field.description:
                raise MissingDescriptionError(f"setting '{name}' has no description")
            if name not in flags:
                raise MissingDescriptionError(f"setting '{name}' is not a flag of serve")
            kind = type_name(field.annotation)
            bounds = constraints(field)
            out.append(f"\n### `{name}`\n\n{one_line(field.description)}\n")
            out.append(
                "\n| type | default | flag | environment |\n| --- | --- | --- | --- |\n"
                f"| {with_bounds(kind, bounds)} | {default_text(field.default, name)} "
                f"| {flags[name]} | `MODELPORT_{name.upper()}` |\n"
            )
    return "".join(out)
