"""The original XXXModelResource.post: {"name": ...} -> {"result": "Hello, <name>!"}."""

from __future__ import annotations

from typing import Any

from modelport.routes import RouteRequest, ServerHandle


def hello(request: RouteRequest, server: ServerHandle) -> dict[str, Any]:
    """Greets by name, through the xxxmodel model."""
    answer = server.predict("xxxmodel", {"name": request.json["name"]})
    return {"result": answer.predictions[0]}
