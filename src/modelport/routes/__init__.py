"""Custom routes: ``METHOD /path`` bound to a Python function beside the models.

Declared in a model folder's ``model.yaml`` (``routes:``) or in ``MODEL_DIR/routes.yaml``;
a function takes ``(request, server)`` (or fewer) and returns a JSON-able value::

    from modelport.routes import RouteRequest, ServerHandle

    def lr_predict(request: RouteRequest, server: ServerHandle) -> dict:
        row = [request.arg(n, 2.0, float) for n in ("sepal_length", "sepal_width",
                                                    "petal_length", "petal_width")]
        answer = server.predict("lr_iris.model", row)
        return {"status": 0, "label": answer.predictions[0]}

The core of the feature lives here (no web framework); ``api/custom_routes.py`` serves it over HTTP.
"""

from modelport.routes.handle import Prediction, ServerHandle, to_payload
from modelport.routes.request import RouteRequest, UploadedFile
from modelport.routes.runner import Reply, RouteAnswer, run_route, to_answer
from modelport.routes.table import BoundRoute, RouteTable, load_routes

__all__ = [
    "BoundRoute",
    "Prediction",
    "Reply",
    "RouteAnswer",
    "RouteRequest",
    "RouteTable",
    "ServerHandle",
    "UploadedFile",
    "load_routes",
    "run_route",
    "to_answer",
    "to_payload",
]
