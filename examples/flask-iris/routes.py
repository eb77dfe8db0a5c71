"""The original app's two routes: a hello, and the iris class for four measures."""

from __future__ import annotations

from typing import Any

from modelport.routes import RouteRequest, ServerHandle

FEATURES = ("sepalLengthCm", "sepalWidthCm", "petalLengthCm", "petalWidthCm")


def index() -> str:
    """A test route: answers hello!!"""
    return "hello!!"


def predict(request: RouteRequest, server: ServerHandle) -> dict[str, Any]:
    """The iris class index (as a string, as the original app's str(result) gave it)."""
    body = request.json  # checked against the schema in routes.yaml
    answer = server.predict("xgboost-iris", {name: body[name] for name in FEATURES})
    return {"return": str(answer.predictions[0])}
