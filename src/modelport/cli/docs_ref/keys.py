"""The model.yaml and routes.yaml page, from their pydantic schemas."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from modelport.cli.docs_ref.text import (
    GENERATED,
    MissingDescriptionError,
    cell,
    constraints,
    default_text,
    type_name,
    with_bounds,
)

__all__ = ["KEY_TEXT", "model_yaml_page"]

#: Text for keys whose schema field has no description of its own.
KEY_TEXT: dict[str, str] = {
    "description": "What the model does; shown in `GET /v1/models` and the V2 metadata.",
    "features[].name": "The feature's name (a key of rows sent as objects).",
    "features[].type": "The feature's type: `float`, `int`, `bool` or `str`.",
    "batching.enabled": "`false` turns batching off for this model.",
    "batching.max_batch_size": "Most rows in one batched model call (setting `max_batch_size`).",
    "batching.max_latency_ms": "Longest a request waits for others to join its batch "
    "(setting `max_latency_ms`).",
    "log.enabled": "`false` logs no prediction of this model (setting `log_predictions`).",
    "log.sample_rate": "Share of this model's predictions logged, 0 to 1 (setting "
    "`log_sample_rate`).",
    "log.inputs": "`full` logs the input rows, `hash` only a hash of them (setting `log_inputs`).",
    "routes": "The custom routes of this file: a list of the route keys below.",
}

MODEL_YAML_INTRO = """\
# model.yaml and routes.yaml keys

`model.yaml` sits in a model's folder (`models/NAME/model.yaml`, for every version) or in
one version's folder (an upload's own, for that version only). Every key is optional;
an unknown key is refused, so that a typo never goes unnoticed: the model fails to load
with the key named. How each key is used is explained in
[the model folder](../how-to/model-folder.md).

```yaml
description: Iris species, logistic regression
features: [sepal_length, sepal_width, {name: petal_length, type: float}, petal_width]
labels: [setosa, versicolor, virginica]
example: [5.1, 3.5, 1.4, 0.2]
batching: {max_batch_size: 16, max_latency_ms: 5}
cache: true
log: {sample_rate: 0.1, inputs: hash}
```
"""

ROUTES_INTRO = """
## routes.yaml

`MODEL_DIR/routes.yaml` declares server-level [custom routes](../how-to/custom-routes.md);
`json`, `errors` and `cors` at its top apply to every route in it unless the route says
otherwise. A model's `model.yaml` may hold a `routes:` list of the same route keys.
"""


def _key_rows(model: type[BaseModel], prefix: str) -> Iterator[tuple[str, str, str, str]]:
    """(key, type, default, text) for every key of ``model``, nested keys included."""
    for name, field in model.model_fields.items():
        key = f"{prefix}{field.alias or name}"
        text = field.description or KEY_TEXT.get(key)
        if not text:
            raise MissingDescriptionError(
                f"key '{key}' has no description: give its field one, or add it to KEY_TEXT"
            )
        default = "none" if field.default_factory is not None else default_text(field.default)
        kind = type_name(field.annotation)
        bounds = constraints(field)
        yield key, with_bounds(kind, bounds), default, text
        for nested in _nested_models(field.annotation):
            inner_prefix = f"{key}[]." if _is_list(field.annotation) else f"{key}."
            if nested.__name__ == "RouteSpec":
                continue  # its keys have their own table
            yield from _key_rows(nested, inner_prefix)


def _is_list(annotation: Any) -> bool:
    if typing.get_origin(annotation) is list:
        return True
    return any(typing.get_origin(a) is list for a in typing.get_args(annotation))


def _nested_models(annotation: Any) -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = []
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return [annotation]
    for arg in typing.get_args(annotation):
        found.extend(_nested_models(arg))
    return found


def _key_table(rows: Iterator[tuple[str, str, str, str]]) -> str:
    lines = ["| key | type | default | what |\n| --- | --- | --- | --- |\n"]
    for key, kind, default, text in rows:
        lines.append(f"| `{key}` | {cell(kind)} | {default} | {cell(text)} |\n")
    return "".join(lines)


def model_yaml_page() -> str:
    from modelport.repository.model_yaml import ModelConfig
    from modelport.repository.route_spec import RoutesFile, RouteSpec

    out = [
        GENERATED,
        MODEL_YAML_INTRO,
        "\n## model.yaml\n\n",
        _key_table(_key_rows(ModelConfig, "")),
    ]
    out.append(ROUTES_INTRO + "\n" + _key_table(_key_rows(RoutesFile, "")))
    route_rows = _key_rows(RouteSpec, "")
    out.append("\n### Route keys\n\nEach item of `routes:` (in either file):\n\n")
    out.append(_key_table(route_rows))
    return "".join(out)
