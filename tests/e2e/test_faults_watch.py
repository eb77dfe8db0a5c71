"""Corrupt files land in a folder served with ``--watch`` while predictions flow: a new
version folder with random bytes for an artifact, a model.yaml overwritten with garbage
(invalid YAML, then a schema error), a bare model file truncated. Each time the version
served before keeps answering, right; the model's metadata and the server log say what
is wrong; and once the file is fixed the watcher serves it. The numbers the reliability
checks ask for are printed and asserted: good predictions that failed, time to recover."""

from __future__ import annotations

import functools
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from e2e.conftest import Server
from e2e.faultload import Predictor

pytestmark = pytest.mark.e2e

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
MODELS = ("iris-lr", "iris-dt", "lr_iris")


@pytest.fixture
def watched(trained_models: Path, tmp_path: Path) -> Iterator[tuple[Server, Path]]:
    models = tmp_path / "models"
    shutil.copytree(trained_models, models, ignore=shutil.ignore_patterns(".modelport"))
    shutil.copy(models / "iris-lr" / "1" / "model.joblib", models / "lr_iris.joblib")
    server = Server(
        [str(models), "--watch", "--watch-interval", "0.1", "--data-dir", str(tmp_path)],
        cwd=tmp_path,
    )
    try:
        server.wait_ready()
        yield server, models
    finally:
        server.stop()


def wait_for(
    http: httpx.Client, model: str, check: Callable[[dict[str, Any]], bool], what: str
) -> tuple[dict[str, Any], float]:
    """GET /v1/models/MODEL until ``check`` holds; (the answer, seconds waited)."""
    started = time.monotonic()
    while True:
        info: dict[str, Any] = http.get(f"/v1/models/{model}").json()
        if check(info):
            return info, time.monotonic() - started
        if time.monotonic() - started > 15:
            raise AssertionError(f"{model}: {what} never came; last answer {info}")
        time.sleep(0.05)


def test_corrupt_files_in_a_watched_folder_never_replace_what_serves(
    watched: tuple[Server, Path],
) -> None:
    server, models = watched
    artifact = (models / "iris-lr" / "1" / "model.joblib").read_bytes()
    recoveries: dict[str, float] = {}
    with httpx.Client(base_url=server.url, timeout=10) as http:
        expected = {
            model: http.post(f"/v1/models/{model}:predict", json={"instances": ROWS}).json()[
                "predictions"
            ]
            for model in MODELS
        }
        calls = [(f"/v1/models/{model}:predict", {"instances": ROWS}) for model in MODELS]
        by_path = {f"/v1/models/{model}:predict": expected[model] for model in MODELS}
        with Predictor(server.url, calls, by_path) as predictor:
            # 1. A new version folder whose artifact is random bytes.
            (models / "iris-lr" / "2").mkdir()
            (models / "iris-lr" / "2" / "model.joblib").write_bytes(os.urandom(4096))
            info, _ = wait_for(
                http, "iris-lr", lambda i: len(i["versions"]) == 2, "the failed version 2"
            )
            assert info["latest_version"] == 1
            assert info["versions"][1]["state"] == "failed"
            assert info["versions"][1]["error"]
            (models / "iris-lr" / "2" / "model.joblib").write_bytes(artifact)
            info, recoveries["new version, random bytes"] = wait_for(
                http, "iris-lr", lambda i: i["latest_version"] == 2, "version 2, fixed"
            )
            assert info["versions"][1]["error"] is None

            # 2. model.yaml overwritten with garbage: invalid YAML, then a schema error.
            config = models / "iris-dt" / "model.yaml"
            good_yaml = config.read_text()
            for garbage in (
                "features: [sepal_length\n  : {{\n",
                "batching: {max_batch_size: -3}\n",
            ):
                config.write_text(garbage)
                check = functools.partial(_error_of, garbage=garbage)
                info, _ = wait_for(http, "iris-dt", check, "model.yaml's error")
                assert info["latest_version"] == 1
                assert info["versions"][0]["state"] == "ready"
            config.write_text(good_yaml.replace("description:", "description: Fixed."))
            info, recoveries["model.yaml, garbage"] = wait_for(
                http, "iris-dt", lambda i: i["description"].startswith("Fixed."), "the fix"
            )
            assert info["error"] is None

            # 3. A bare model file truncated in place.
            bare = models / "lr_iris.joblib"
            sha256 = http.get("/v1/models/lr_iris").json()["versions"][0]["sha256"]
            bare.write_bytes(artifact[: len(artifact) // 2])
            info, _ = wait_for(http, "lr_iris", lambda i: bool(i["error"]), "the file's error")
            assert info["versions"][0]["state"] == "ready"
            assert info["versions"][0]["sha256"] == sha256  # the file loaded before serves
            shutil.copy(models / "iris-dt" / "1" / "model.joblib", bare)
            info, recoveries["bare file, truncated"] = wait_for(
                http, "lr_iris", lambda i: i["versions"][0]["sha256"] != sha256, "the fix"
            )
            assert info["error"] is None
            # The decision tree gives these rows the same answers as the linear model.
            assert (
                http.post("/v1/models/lr_iris:predict", json={"instances": ROWS}).json()[
                    "predictions"
                ]
                == expected["lr_iris"]
            )
    print(
        f"\ncorrupt files under --watch: {predictor.sent} good predictions, "
        f"{len(predictor.failed)} failed; time to serve the fixed file: "
        + ", ".join(f"{case} {seconds:.2f} s" for case, seconds in recoveries.items())
    )
    assert predictor.failed == []
    log = server.log()
    assert "model 'iris-lr' version 2 failed to load" in log
    assert "model 'iris-dt' failed" in log
    assert "model 'lr_iris' version 1 failed to load" in log
    assert server.process.poll() is None


def _error_of(info: dict[str, Any], garbage: str) -> bool:
    """Whether the model's error is that of this model.yaml (the YAML's or the schema's)."""
    error = info.get("error") or ""
    if "max_batch_size" in garbage:
        return "max_batch_size" in error
    return "model.yaml" in error and "max_batch_size" not in error
