"""OpenAPI documentation of the hand-parsed bodies.

The predict body is parsed with orjson, not pydantic, to keep the hot path lean; these
schemas only describe it so that /docs and /openapi.json stay accurate.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

__all__ = [
    "PREDICT_REQUEST_BODY",
    "ErrorBody",
    "ModelList",
    "PredictResponse",
]

_ROW = {"type": "array", "items": {}, "description": "one row, values in feature order"}
_RECORD = {"type": "object", "additionalProperties": True, "description": "feature -> value"}

PREDICT_REQUEST_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "description": "Exactly one of instances, inputs, dataframe_split, "
                "dataframe_records; optional parameters.",
                "properties": {
                    "instances": {
                        "type": "array",
                        "items": {"anyOf": [_ROW, _RECORD]},
                        "description": "rows as lists (feature order) or objects",
                    },
                    "inputs": {
                        "anyOf": [
                            {
                                "type": "object",
                                "additionalProperties": {"type": "array", "items": {}},
                                "description": "columns: feature -> list of values",
                            },
                            {"type": "array", "items": {"anyOf": [_ROW, _RECORD]}},
                        ]
                    },
                    "dataframe_split": {
                        "type": "object",
                        "properties": {
                            "columns": {"type": "array", "items": {"type": "string"}},
                            "data": {"type": "array", "items": _ROW},
                            "index": {"type": "array", "items": {}},
                        },
                        "required": ["columns", "data"],
                    },
                    "dataframe_records": {"type": "array", "items": _RECORD},
                    "parameters": {
                        "type": "object",
                        "properties": {
                            "probabilities": {
                                "type": "boolean",
                                "description": "add class probabilities to the answer",
                            }
                        },
                    },
                },
            },
            "examples": {
                "rows": {"value": {"instances": [[5.1, 3.5, 1.4, 0.2]]}},
                "records": {
                    "value": {
                        "instances": [
                            {
                                "sepal_length": 6.7,
                                "sepal_width": 3.0,
                                "petal_length": 5.2,
                                "petal_width": 2.3,
                            }
                        ],
                        "parameters": {"probabilities": True},
                    }
                },
                "columns": {
                    "value": {
                        "inputs": {
                            "sepal_length": [5.1],
                            "sepal_width": [3.5],
                            "petal_length": [1.4],
                            "petal_width": [0.2],
                        }
                    }
                },
                "dataframe_split": {
                    "value": {
                        "dataframe_split": {
                            "columns": [
                                "sepal_length",
                                "sepal_width",
                                "petal_length",
                                "petal_width",
                            ],
                            "data": [[5.1, 3.5, 1.4, 0.2]],
                        }
                    }
                },
            },
        }
    },
}


class ErrorBody(BaseModel):
    error: str = Field(description="stable machine-readable code, e.g. invalid_input")
    message: str = Field(description="what was wrong and how to fix it")


class PredictResponse(BaseModel):
    model_name: str
    model_version: int
    predictions: list[Any] = Field(description="one per row; class labels mapped to names")
    probabilities: list[dict[str, float]] | None = Field(
        default=None, description="per row, label -> probability (when asked for)"
    )


class VersionInfo(BaseModel):
    version: int
    state: str = Field(description="ready or failed")
    runtime: str | None
    artifact: str | None
    error: str | None
    loaded_at: str | None
    load_seconds: float | None


class ModelInfo(BaseModel):
    name: str
    state: str
    ready: bool
    description: str
    latest_version: int | None
    error: str | None
    versions: list[VersionInfo]


class ModelList(BaseModel):
    models: list[ModelInfo]
