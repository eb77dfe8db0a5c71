"""The original Tornado handlers as modelport routes (declared in routes.yaml).

Each takes the parsed request and the server handle; models answer through
``server.predict`` (the same path as POST /v1/models/{name}:predict), the dbtest pair
uses the server's database (``server.database``) and key-value store (``server.store``:
Redis when MODELPORT_REDIS_URL is set).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Date, DateTime, Double, MetaData, Table, inspect, select

from modelport.errors import InvalidRequestError, ModelLoadError, NotFoundError
from modelport.routes import RouteRequest, ServerHandle

IRIS_FEATURES = ("sepal_length", "sepal_width", "petal_length", "petal_width")

metadata = MetaData()
error500_test = Table(
    "error500_test",
    metadata,
    Column("timestamp", DateTime, primary_key=True),
    Column("date", Date, nullable=False),
    Column("col1", Double, nullable=False),
    Column("col2", Double, nullable=False),
)
#: The five sample rows: (timestamp, col1 = the reference value, col2).
SAMPLE_ROWS = [
    ("2018-10-10 00:00:00", 1.0, 0.8),
    ("2018-10-10 00:01:00", 1.1, 0.9),
    ("2018-10-10 00:02:00", 1.2, 1.3),
    ("2018-10-10 00:03:00", 0.9, 0.7),
    ("2018-10-10 00:04:00", 1.05, 1.1),
]


def description(request: RouteRequest) -> dict[str, Any]:
    """What this API is."""
    return {"status": 0, "result": "this is restful API for machine learning. welcome !"}


def compute(request: RouteRequest, server: ServerHandle) -> dict[str, Any]:
    """a (+ - * /) b by ctype 0..3, through the compute model."""
    row = {name: request.arg(name, type=float) for name in ("a", "b", "ctype")}
    return {"status": 0, "result": server.predict("compute", row).predictions[0]}


def _iris(request: RouteRequest, server: ServerHandle, model: str) -> dict[str, Any]:
    row = [request.arg(name, 2.0, float) for name in IRIS_FEATURES]
    answer = server.predict(model, row)
    return {
        "status": 0,
        "model": answer.model,
        "version": float(answer.version),
        "label": answer.predictions[0],
    }


def lr_predict(request: RouteRequest, server: ServerHandle) -> dict[str, Any]:
    """Iris species by logistic regression; each measure defaults to 2.0."""
    return _iris(request, server, "lr_iris.model")


def dt_predict(request: RouteRequest, server: ServerHandle) -> dict[str, Any]:
    """Iris species by decision tree; each measure defaults to 2.0."""
    return _iris(request, server, "dt_iris.model")


def train_data(request: RouteRequest, server: ServerHandle) -> dict[str, Any]:
    """Create error500_test, insert the sample rows (existing ones are kept), and cache
    each timestamp's reference value."""
    engine = server.database
    metadata.create_all(engine, checkfirst=True)
    rows = [
        {"timestamp": stamp, "date": stamp.date(), "col1": col1, "col2": col2}
        for stamp, col1, col2 in ((datetime.fromisoformat(t), a, b) for t, a, b in SAMPLE_ROWS)
    ]
    with engine.begin() as connection:
        connection.execute(_insert_ignore(engine.dialect.name), rows)
    for row in rows:
        server.store.set(_key(row["timestamp"]), row["col1"])
    return {"status": 0, "message": f"succeed to insert ignore {len(rows)} rows to error500_test"}


def predict_data(request: RouteRequest, server: ServerHandle) -> dict[str, Any]:
    """Label a value against the timestamp's reference (cache first, then the table)."""
    text = request.arg("timestamp", "2018-10-10 00:01:00")
    value = request.arg("value", 0.5, float)
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidRequestError(
            f"timestamp '{text}' is not a date and time like 2018-10-10 00:01:00"
        ) from None
    reference = server.store.get(_key(stamp))
    if reference is None and inspect(server.database).has_table(error500_test.name):
        query = select(error500_test.c.col1).where(error500_test.c.timestamp == stamp)
        with server.database.connect() as connection:
            reference = connection.execute(query).scalar_one_or_none()
        if reference is not None:
            server.store.set(_key(stamp), reference)
    if reference is None:
        raise NotFoundError(f"no reference value for {stamp}: call /dbtest/train_data first")
    label = server.predict("error500", {"value": value, "reference": reference}).predictions[0]
    return {"status": 0, "true value": value, "reference": reference, "label": label}


def reload_model(request: RouteRequest, server: ServerHandle) -> dict[str, Any]:
    """Reload every model from the folder, or the one named by ?modelname=."""
    name = request.arg("modelname", None)
    report = server.reload(name)
    failed = {model: outcome for model, outcome in report.items() if outcome not in _FINE}
    if failed:
        raise ModelLoadError(f"reload failed: {failed}")
    return {"status": 0, "message": f"server has reload {name or 'all models'}"}


def upload_model(request: RouteRequest, server: ServerHandle) -> dict[str, Any]:
    """Upload a model file (multipart); it becomes the next version of the model of the
    same name (lr_iris.model -> lr_iris.model/2/) and serves once it loads."""
    if not request.files:
        raise InvalidRequestError("send the model file as multipart/form-data (a 'file' part)")
    part = request.files.get("file") or next(iter(request.files.values()))
    name = part.filename
    server.upload(name, name, part.data)
    return {"status": 0, "message": f"upload {name} success! server has reload {name}"}


_FINE = ("loaded", "unchanged", "dropped")


def _key(stamp: datetime) -> str:
    return f"error500_test:{stamp:%Y-%m-%d %H:%M:%S}"


def _insert_ignore(dialect: str) -> Any:
    """INSERT that keeps rows already there, in each database's own words."""
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(error500_test).on_conflict_do_nothing()
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(error500_test).on_conflict_do_nothing()
    return error500_test.insert().prefix_with("IGNORE")  # MySQL / MariaDB
