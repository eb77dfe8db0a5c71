"""A server with only a scikit-learn model imports no library that model does not need.

iris-lr is a plain LogisticRegression, answered with NumPy (runtimes/sklearn_numpy.py):
not even scikit-learn, SciPy or pandas is imported.

The real server runs with ``PYTHONPROFILEIMPORTTIME=1`` (CPython's ``-X importtime``),
which writes one line per module imported, children before their parent and indented
by depth, to the server's log: no test-only code in modelport is involved.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import httpx
import pytest

from modelport.db import default_sqlite_url, migrate

from .conftest import StartServer

pytestmark = pytest.mark.e2e

#: Never imported while serving iris-lr alone, with gRPC off and the database at head.
ABSENT = {
    "alembic",  # only when the database needs migrating
    "mako",
    "grpc",  # only with a gRPC port
    "google",  # protobuf
    "jsonschema",  # only for custom routes that declare a schema
    "redis",  # only with redis_url
    "skops",
    "xgboost",
    "lightgbm",
    "onnxruntime",
    "onnx",
    "sklearn",  # a plain linear model is answered with NumPy
    "scipy",
    "pandas",
    "pyarrow",
}

_LINE = re.compile(r"import time:\s+\d+ \|\s+\d+ \|( *)(\S+)\s*$")


def importers(log: str) -> dict[str, str | None]:
    """Each module imported, with the module whose import first imported it (None: top)."""
    found: dict[str, str | None] = {}
    pending: list[tuple[int, str]] = []  # (depth, module) still waiting for their parent
    for line in log.splitlines():
        match = _LINE.match(line)
        if match is None:
            continue
        depth, module = len(match.group(1)), match.group(2)
        while pending and pending[-1][0] > depth:
            found[pending.pop()[1]] = module
        pending.append((depth, module))
    for _, module in pending:
        found.setdefault(module, None)
    return found


def test_importers_reads_the_nesting() -> None:
    log = (
        "import time: self [us] | cumulative | imported package\n"
        "import time:        10 |         10 |     pandas.core\n"
        "import time:        10 |         20 |   pandas\n"
        "some log line\n"
        "import time:        10 |         30 | sklearn\n"
        "import time:        10 |         10 | json\n"
    )
    assert importers(log) == {
        "pandas.core": "pandas",
        "pandas": "sklearn",
        "sklearn": None,
        "json": None,
    }


def test_serving_iris_lr_imports_only_what_it_needs(
    start_server: StartServer, trained_models: Path, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    shutil.copytree(trained_models / "iris-lr", models / "iris-lr")
    data = tmp_path / "data"
    migrate(default_sqlite_url(data))  # as after a first start: the database is at head
    server = start_server(
        [str(models), "--grpc-port", "0", "--data-dir", str(data)],
        env={"PYTHONPROFILEIMPORTTIME": "1"},
    )
    server.wait_ready()
    answer = httpx.post(
        f"{server.url}/v1/models/iris-lr:predict", json={"instances": [[5.1, 3.5, 1.4, 0.2]]}
    )
    assert answer.status_code == 200, answer.text
    found = importers(server.log())
    assert "modelport.runtimes.sklearn_numpy" in found, "no -X importtime output in the log"
    packages = {module.split(".")[0] for module in found}
    assert packages & ABSENT == set()
    # OpenTelemetry only when OTEL_EXPORTER_OTLP_ENDPOINT asks for traces. FastAPI imports
    # it by itself when it is installed (its own telemetry module): not modelport's doing.
    assert [
        module
        for module in found
        if module.split(".")[0] == "opentelemetry"
        and _outside(found, module, "opentelemetry").startswith("modelport")
    ] == []


def _outside(found: dict[str, str | None], module: str, package: str) -> str:
    """The first module outside ``package`` on the chain of imports that led to
    ``module`` ("" at the top)."""
    current: str | None = module
    while current is not None and current.split(".")[0] == package:
        current = found.get(current)
    return current or ""
