"""JSON Schema validation of a route's JSON body (``schema:`` in model.yaml/routes.yaml).

Uses the ``jsonschema`` package (extra ``modelport[schema]``), imported only when a route
declares a schema. Messages are jsonschema's own (``'name' is a required property``),
the most relevant one when several rules fail, with the value they quote shortened.
"""

from __future__ import annotations

from typing import Any

from modelport.errors import InvalidRequestError, ModelLoadError, shown

__all__ = ["NO_JSON", "compile_schema", "validate_json"]

#: The answer to a body that is missing or not JSON, where a schema asks for one.
NO_JSON = "No JSON object"


def compile_schema(schema: dict[str, Any]) -> Any:
    """A validator for ``schema`` (its own draft, from ``$schema``; else the newest)."""
    try:
        from jsonschema import SchemaError
        from jsonschema.validators import validator_for
    except ModuleNotFoundError as exc:
        raise ModelLoadError(
            "schema: validating needs the Python package 'jsonschema'; install it with: "
            "pip install 'modelport[schema]'"
        ) from exc
    cls = validator_for(schema)
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        raise ModelLoadError(f"schema: not a valid JSON Schema: {exc.message}") from exc
    return cls(schema)


def validate_json(validator: Any, document: Any) -> None:
    """Raise InvalidRequestError (400) with the best-matching violation, if any."""
    from jsonschema.exceptions import best_match

    error = best_match(validator.iter_errors(document))
    if error is not None:
        # jsonschema quotes the offending value whole ("'aaa...' is not of type 'number'")
        raise InvalidRequestError(
            error.message.replace(repr(error.instance), shown(error.instance))
        )
