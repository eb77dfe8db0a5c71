"""Baseline: FastAPI the common way (pydantic request body, async handler).

``BENCH_MODEL_DIR=DIR uvicorn fastapi_app:app --port PORT``; same request and answer as
``flask_app.py``: ``POST /predict/<name>`` with ``{"instances": [[...], ...]}``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel


class PredictRequest(BaseModel):
    instances: list[list[float]]


class PredictResponse(BaseModel):
    predictions: list[Any]


def create_app(model_dir: Path) -> FastAPI:
    app = FastAPI()
    models = {p.parent.parent.name: joblib.load(p) for p in model_dir.glob("*/1/model.joblib")}

    @app.post("/predict/{name}")
    async def predict(name: str, body: PredictRequest) -> PredictResponse:
        model = models.get(name)
        if model is None:
            raise HTTPException(status_code=404)
        rows = np.asarray(body.instances, dtype=np.float64)
        return PredictResponse(predictions=model.predict(rows).tolist())

    return app


app = create_app(Path(os.environ["BENCH_MODEL_DIR"]))
