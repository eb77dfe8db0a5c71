"""Baseline: the usual Flask app (load every model once, one ``predict`` per request).

Run under gunicorn with two sync workers, as the tutorials do:
``BENCH_MODEL_DIR=DIR gunicorn -w 2 -b 127.0.0.1:PORT flask_app:app``.
``POST /predict/<name>`` with ``{"instances": [[...], ...]}`` answers
``{"predictions": [...]}`` (the model's own class values).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from flask import Flask, abort, jsonify, request


def load_models(model_dir: Path) -> dict[str, Any]:
    """Every ``NAME/1/model.joblib`` under ``model_dir``, by name."""
    return {
        path.parent.parent.name: joblib.load(path) for path in model_dir.glob("*/1/model.joblib")
    }


def create_app(model_dir: Path) -> Flask:
    app = Flask(__name__)
    models = load_models(model_dir)

    @app.post("/predict/<name>")
    def predict(name: str) -> Any:
        model = models.get(name)
        if model is None:
            abort(404)
        payload: Any = request.get_json(force=True)
        rows = np.asarray(payload["instances"], dtype=np.float64)
        return jsonify(predictions=model.predict(rows).tolist())

    return app


app = create_app(Path(os.environ["BENCH_MODEL_DIR"]))
