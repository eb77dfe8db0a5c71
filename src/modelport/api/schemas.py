"""OpenAPI documentation of the hand-parsed bodies.

The predict body is parsed with orjson, not pydantic, to keep the hot path lean; these
schemas only describe it so that /docs and /openapi.json stay accurate.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

__all__ = [
    "MLFLOW_REQUEST_BODY",
    "PREDICT_REQUEST_BODY",
    "V2_ERRORS",
    "V2_INFER_REQUEST_BODY",
    "ErrorBody",
    "MlflowResponse",
    "PredictResponse",
    "V2ErrorBody",
    "V2InferResponse",
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


# -- Open Inference Protocol (V2) ---------------------------------------------------------

_V2_TENSOR = {
    "type": "object",
    "required": ["name", "datatype", "shape"],
    "properties": {
        "name": {"type": "string", "description": "a feature name, or any name for one 2-D tensor"},
        "datatype": {
            "type": "string",
            "enum": [
                "BOOL",
                "UINT8",
                "UINT16",
                "UINT32",
                "UINT64",
                "INT8",
                "INT16",
                "INT32",
                "INT64",
                "FP16",
                "FP32",
                "FP64",
                "BYTES",
            ],
        },
        "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
        "data": {"type": "array", "items": {}, "description": "flat or nested, row-major"},
        "parameters": {
            "type": "object",
            "properties": {"binary_data_size": {"type": "integer", "minimum": 0}},
        },
    },
}

V2_INFER_REQUEST_BODY: dict[str, Any] = {
    "required": True,
    "description": "JSON; with the binary tensor data extension, JSON followed by raw tensor "
    "bytes and the header Inference-Header-Content-Length giving the JSON size.",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["inputs"],
                "properties": {
                    "id": {"type": "string", "description": "echoed in the response"},
                    "parameters": {
                        "type": "object",
                        "properties": {"binary_data_output": {"type": "boolean"}},
                    },
                    "inputs": {"type": "array", "items": _V2_TENSOR},
                    "outputs": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["name"],
                            "properties": {
                                "name": {"type": "string", "enum": ["predict", "predict_proba"]},
                                "parameters": {
                                    "type": "object",
                                    "properties": {"binary_data": {"type": "boolean"}},
                                },
                            },
                        },
                    },
                },
            },
            "examples": {
                "one 2-D tensor": {
                    "value": {
                        "inputs": [
                            {
                                "name": "input-0",
                                "datatype": "FP64",
                                "shape": [1, 4],
                                "data": [5.1, 3.5, 1.4, 0.2],
                            }
                        ]
                    }
                },
                "one tensor per feature, with probabilities": {
                    "value": {
                        "id": "42",
                        "inputs": [
                            {"name": name, "datatype": "FP32", "shape": [1], "data": [value]}
                            for name, value in (
                                ("sepal_length", 6.7),
                                ("sepal_width", 3.0),
                                ("petal_length", 5.2),
                                ("petal_width", 2.3),
                            )
                        ],
                        "outputs": [{"name": "predict"}, {"name": "predict_proba"}],
                    }
                },
            },
        }
    },
}


class V2ErrorBody(BaseModel):
    error: str = Field(description="what was wrong and how to fix it")


V2_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": V2ErrorBody} for code in (400, 404, 413, 503, 504)
}


class V2OutputTensor(BaseModel):
    name: str
    datatype: str
    shape: list[int]
    data: list[Any] | None = Field(default=None, description="flat, row-major")
    parameters: dict[str, Any] | None = Field(
        default=None, description="binary_data_size when the data follow the JSON as bytes"
    )


class V2InferResponse(BaseModel):
    model_name: str
    model_version: str
    id: str | None = None
    outputs: list[V2OutputTensor]


# -- MLflow scoring protocol ------------------------------------------------------------

MLFLOW_REQUEST_BODY: dict[str, Any] = {
    "required": True,
    "description": "mlflow models serve's JSON: exactly one of dataframe_split, "
    "dataframe_records, instances, inputs (params accepted and ignored); or text/csv with "
    "a header row.",
    "content": {
        "application/json": PREDICT_REQUEST_BODY["content"]["application/json"],
        "text/csv": {"schema": {"type": "string"}},
    },
}


class MlflowResponse(BaseModel):
    predictions: list[Any] = Field(description="one per row; class labels mapped to names")
