"""The soak's model folder and request bodies: two function models (cheap, so that the
server's own overhead is what the soak exercises), a custom route, and a slow model for the
overload run. Function models need no training, so the soak starts in a few seconds."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SLOW_MODEL", "Endpoint", "endpoints", "function_code", "write_models"]

ROW = [5.1, 3.5, 1.4, 0.2]
SIGNATURE = "sepal_length: float, sepal_width: float, petal_length: float, petal_width: float"
#: The overload run's model: burns a fixed amount of CPU per call, so that the sustainable
#: rate is low enough for a Python open-loop generator to send 4x of it.
SLOW_MODEL = "slow"


def function_code(version: int) -> str:
    """fn-a's model.py; the version is in the answer so that a move of the alias shows."""
    return (
        f"def predict({SIGNATURE}) -> str:\n"
        f"    return 'setosa-{version}' if petal_length < 2.5 else 'versicolor-{version}'\n"
    )


_FN_B = f"def predict({SIGNATURE}) -> float:\n    return sepal_length * 0.5 + petal_width\n"

_SLOW = (
    "import time\n\n\n"
    f"def predict({SIGNATURE}) -> float:\n"
    "    # Busy, not asleep: a sleeping model would not use the CPU a real one does. The\n"
    "    # thread's own CPU time, not the clock's: calls that share the interpreter lock\n"
    "    # each still cost their 10 ms, as a real model's do.\n"
    "    until = time.thread_time() + {burn_s}\n"
    "    total = 0.0\n"
    "    while time.thread_time() < until:\n"
    "        total += sepal_length\n"
    "    return petal_width\n"
)

_ROUTES_YAML = """routes:
  - method: POST
    path: /soak/score
    handler: score
"""

_ROUTES_PY = """from modelport.routes import RouteRequest, ServerHandle


def score(request: RouteRequest, server: ServerHandle) -> dict:
    answer = server.predict("fn-a", request.json["row"])
    return {"label": answer.predictions[0], "version": answer.version}
"""


def write_models(target: Path, slow_burn_ms: float, monitor: bool = True) -> Path:
    """Write the model folder into ``target`` and return it (``monitor=False``: each
    model.yaml says ``monitor: false``, to tell the drift monitor's memory apart)."""
    for name, code in (
        ("fn-a", function_code(1)),
        ("fn-b", _FN_B),
        (SLOW_MODEL, _SLOW.replace("{burn_s}", repr(slow_burn_ms / 1000))),
    ):
        (target / name / "1").mkdir(parents=True)
        (target / name / "1" / "model.py").write_text(code)
        if not monitor:
            (target / name / "model.yaml").write_text("monitor: false\n")
    (target / "routes.yaml").write_text(_ROUTES_YAML)
    (target / "routes.py").write_text(_ROUTES_PY)
    return target


@dataclass(frozen=True)
class Endpoint:
    """One kind of request of the mixed load."""

    key: str
    path: str
    body: Path


def endpoints(workdir: Path) -> list[Endpoint]:
    """native, V2 REST, MLflow and the custom route, each with its body file."""
    v2 = {"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": ROW}]}
    kinds = [
        ("native", "/v1/models/fn-a:predict", {"instances": [ROW]}),
        ("v2", "/v2/models/fn-b/infer", v2),
        ("mlflow", "/v1/models/fn-b/invocations", {"instances": [ROW]}),
        ("route", "/soak/score", {"row": ROW}),
    ]
    out = []
    for key, path, body in kinds:
        file = workdir / f"body-{key}.json"
        file.write_text(json.dumps(body))
        out.append(Endpoint(key, path, file))
    return out
