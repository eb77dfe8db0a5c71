"""Baseline: FastAPI the common way (pydantic request body; ``app`` with an async handler,
``sync_app`` with a plain one).

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


def create_app(model_dir: Path, sync: bool = False) -> FastAPI:
    """The app; ``sync`` declares the handler with ``def``, which FastAPI runs in its thread
    pool (its docs' advice for blocking work such as a model call)."""
    app = FastAPI()
    models = {p.parent.parent.name: joblib.load(p) for p in model_dir.glob("*/1/model.joblib")}

    def answer(name: str, body: PredictRequest) -> PredictResponse:
        model = models.get(name)
        if model is None:
            raise HTTPException(status_code=404)
        rows = np.asarray(body.instances, dtype=np.float64)
        return PredictResponse(predictions=model.predict(rows).tolist())

    if sync:

        @app.post("/predict/{name}")
        def predict_sync(name: str, body: PredictRequest) -> PredictResponse:
            return answer(name, body)

    else:

        @app.post("/predict/{name}")
        async def predict(name: str, body: PredictRequest) -> PredictResponse:
            return answer(name, body)

    return app


app = create_app(Path(os.environ["BENCH_MODEL_DIR"]))
sync_app = create_app(Path(os.environ["BENCH_MODEL_DIR"]), sync=True)
