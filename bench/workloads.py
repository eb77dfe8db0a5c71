"""The benchmark's models, request bodies and expected answers.

Models: iris-lr and iris-dt from ``modelport train-examples``, plus iris-rf, a 100-tree
RandomForest saved the same way (``iris-rf/1/model.joblib`` and a ``model.yaml``). Every
server loads these very files. Bodies are written once per protocol and workload; the
expected answers come from the same joblib files, predicted in this process.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import yaml
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier

__all__ = ["PROTOCOLS", "WORKLOADS", "Prepared", "Workload", "prepare", "request_path"]

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


@dataclass(frozen=True)
class Workload:
    """What one request asks: ``rows`` rows of iris data for ``model``."""

    key: str
    model: str
    rows: int
    title: str


WORKLOADS: dict[str, Workload] = {
    w.key: w
    for w in (
        Workload("lr-1", "iris-lr", 1, "iris-lr, 1 row"),
        Workload("rf-1", "iris-rf", 1, "RandomForest (100 trees), 1 row"),
        Workload("lr-1000", "iris-lr", 1000, "iris-lr, 1,000-row requests"),
    )
}


def request_path(protocol: str, model: str) -> str:
    """URL path a server of ``protocol`` answers predictions of ``model`` on."""
    if protocol == "native":
        return f"/v1/models/{model}:predict"
    if protocol == "v2":
        return f"/v2/models/{model}/infer"
    if protocol == "instances":
        return f"/predict/{model}"
    if protocol == "hello":
        return "/"
    raise ValueError(f"unknown protocol {protocol!r}")


def _native_body(rows: list[list[float]]) -> dict[str, Any]:
    return {"instances": rows}


def _v2_body(rows: list[list[float]]) -> dict[str, Any]:
    flat = [value for row in rows for value in row]
    tensor = {"name": "input-0", "shape": [len(rows), len(FEATURES)], "datatype": "FP64"}
    return {"inputs": [{**tensor, "data": flat}]}


#: protocol -> request body builder; the hello floor is sent modelport's body
PROTOCOLS: dict[str, Callable[[list[list[float]]], dict[str, Any]]] = {
    "native": _native_body,
    "v2": _v2_body,
    "instances": _native_body,
    "hello": _native_body,
}


@dataclass(frozen=True)
class Prepared:
    """Model folders, body files and expected answers of one benchmark run."""

    all_models: Path  # iris-lr, iris-dt, iris-rf: "every example"
    bench_models: Path  # iris-lr, iris-rf: what the load runs use
    lr_models: Path  # iris-lr alone: the cold-start model
    bodies: dict[tuple[str, str], Path]  # (protocol, workload) -> body file
    class_ids: dict[str, list[int]]  # workload -> expected class values
    labels: dict[str, list[str]]  # workload -> expected labels (modelport maps them)

    def check(self, protocol: str, workload: str, status: int, body: bytes) -> str | None:
        """None when the answer is right, else what is wrong with it."""
        if status != 200:
            return f"HTTP {status}: {body[:300]!r}"
        if protocol == "hello":
            return None if body == b"hello" else f"unexpected body {body[:100]!r}"
        got: Any
        want: list[Any]
        try:
            answer = json.loads(body)
            if protocol == "native":
                got, want = answer["predictions"], self.labels[workload]
            elif protocol == "v2":  # modelport answers a model's labels, MLServer class ids
                got = answer["outputs"][0]["data"]
                labelled = bool(got) and isinstance(got[0], str)
                want = self.labels[workload] if labelled else self.class_ids[workload]
            else:
                got, want = answer["predictions"], self.class_ids[workload]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            return f"unreadable answer ({exc!r}): {body[:300]!r}"
        if got != want:
            return f"wrong predictions: got {str(got)[:120]}, want {str(want)[:120]}"
        return None


def _train_forest(target: Path) -> None:
    iris = load_iris()
    forest = RandomForestClassifier(n_estimators=100, random_state=0).fit(iris.data, iris.target)
    folder = target / "iris-rf"
    (folder / "1").mkdir(parents=True)
    config = {
        "description": "Iris species, random forest of 100 trees (scikit-learn)",
        "features": FEATURES,
        "labels": [str(name) for name in iris.target_names],
        "example": [5.1, 3.5, 1.4, 0.2],
    }
    (folder / "model.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    joblib.dump(forest, folder / "1" / "model.joblib")


def _rows(workload: Workload) -> list[list[float]]:
    data = load_iris().data
    if workload.rows == 1:  # a setosa row for iris-lr, a versicolor row for the forest
        return [data[0 if workload.model == "iris-lr" else 75].tolist()]
    return [data[i % len(data)].tolist() for i in range(workload.rows)]


def prepare(workdir: Path, modelport: Path) -> Prepared:
    """Train the models into ``workdir`` and write every body the run will send."""
    all_models = workdir / "models-all"
    subprocess.run(
        [str(modelport), "train-examples", str(all_models)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    _train_forest(all_models)
    bench_models, lr_models = workdir / "models-bench", workdir / "models-lr"
    for target, names in ((bench_models, ["iris-lr", "iris-rf"]), (lr_models, ["iris-lr"])):
        for name in names:
            shutil.copytree(all_models / name, target / name)
    iris_names = [str(name) for name in load_iris().target_names]
    bodies: dict[tuple[str, str], Path] = {}
    class_ids: dict[str, list[int]] = {}
    labels: dict[str, list[str]] = {}
    (workdir / "bodies").mkdir()
    for workload in WORKLOADS.values():
        rows = _rows(workload)
        model = joblib.load(all_models / workload.model / "1" / "model.joblib")
        class_ids[workload.key] = [int(v) for v in model.predict(np.asarray(rows))]
        labels[workload.key] = [iris_names[v] for v in class_ids[workload.key]]
        for protocol, build in PROTOCOLS.items():
            path = workdir / "bodies" / f"{protocol}-{workload.key}.json"
            path.write_text(json.dumps(build(rows), separators=(",", ":")))
            bodies[protocol, workload.key] = path
    return Prepared(all_models, bench_models, lr_models, bodies, class_ids, labels)
