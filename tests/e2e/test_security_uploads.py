"""Uploads and model folders that would run code, tried as an attacker would.

A skops file whose model.yaml trusts ``posix.system`` or ``builtins.eval`` runs a command
while loading; so does model.yaml ``code:``. With ``allow_pickle_uploads`` off (the
default) such an upload is refused before anything is written, and ``code:`` on disk may
only name files inside the version folder. Each payload would create a marker file: the
tests check it never appears (and, once, that it does when the server allows code).
"""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import skops.io
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from .conftest import Server, StartServer

pytestmark = pytest.mark.e2e

ADMIN = "admin-token-for-the-upload-tests"
AUTH = {"Authorization": f"Bearer {ADMIN}"}
ROWS = {"instances": [[5.1, 3.5, 1.4, 0.2]]}
QUIRKY = "quirky_model.QuirkyModel"  # tests/support, on the server's PYTHONPATH


# -- skops files that run a command while loading ------------------------------------------


def _text(value: Any) -> dict[str, Any]:
    return {
        "__class__": "str",
        "__module__": "builtins",
        "__loader__": "JsonNode",
        "content": json.dumps(value),
        "is_json": True,
    }


def _call(module: str, name: str, argument: str) -> dict[str, Any]:
    """A node skops loads by calling ``module.name(argument)``, once that type is trusted."""
    return {
        "__class__": name,
        "__module__": module,
        "__loader__": "ConstructorFromReduceNode",
        "content": {
            "__class__": "tuple",
            "__module__": "builtins",
            "__loader__": "TupleNode",
            "content": [_text(argument)],
        },
    }


def evil_skops(marker: Path, how: str) -> bytes:
    """iris' LogisticRegression, with an attribute whose loading creates ``marker``."""
    iris = load_iris()
    clean = io.BytesIO()
    skops.io.dump(LogisticRegression(max_iter=1000).fit(iris.data, iris.target), clean)
    source = zipfile.ZipFile(io.BytesIO(clean.getvalue()))
    schema = json.loads(source.read("schema.json"))
    if how == "system":
        payload = _call("posix", "system", f"touch {marker}")
    elif how == "eval":
        payload = _call("builtins", "eval", f"open({str(marker)!r}, 'w').close()")
    else:  # nested: the call hidden in a list inside the estimator's attributes
        call = _call("posix", "system", f"touch {marker}")
        payload = {
            "__class__": "list",
            "__module__": "builtins",
            "__loader__": "ListNode",
            "content": [_text(1), call],
        }
    attributes = schema["content"]
    attributes["content"]["evil_"] = payload
    key_type = {"__class__": "str", "__module__": "builtins", "__loader__": "TypeNode"}
    attributes["key_types"]["content"].append(key_type)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            data = json.dumps(schema) if name == "schema.json" else source.read(name)
            target.writestr(name, data)
    return out.getvalue()


def quirky_skops(tmp_path: Path) -> bytes:
    """A skops file holding a type skops does not trust by default (a harmless one)."""
    import subprocess
    import sys

    from .conftest import SUPPORT

    target = tmp_path / "quirky.skops"
    code = (
        "import sys, skops.io, quirky_model; skops.io.dump(quirky_model.QuirkyModel(), sys.argv[1])"
    )
    subprocess.run(
        [sys.executable, "-c", code, str(target)], env={"PYTHONPATH": str(SUPPORT)}, check=True
    )
    return target.read_bytes()


def upload(
    server: Server,
    name: str,
    artifact: bytes,
    model_yaml: str | None = None,
    files: dict[str, bytes] | None = None,
    filename: str = "model.skops",
) -> httpx.Response:
    parts: list[tuple[str, tuple[str, bytes]]] = [("file", (filename, artifact))]
    if model_yaml is not None:
        parts.append(("model_yaml", ("model.yaml", model_yaml.encode())))
    parts += [("files", (file_name, data)) for file_name, data in (files or {}).items()]
    return httpx.post(
        f"{server.url}/v1/admin/models/{name}/versions", files=parts, headers=AUTH, timeout=60
    )


def assert_refused(response: httpx.Response, *fragments: str) -> None:
    assert response.status_code == 403, response.text
    body = response.json()
    assert body["error"] == "forbidden"
    for fragment in fragments:
        assert fragment in body["message"], body["message"]


@pytest.fixture(scope="module")
def default_server(
    trained_models: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Path]]:
    """A server with the defaults (pickle uploads off, no upload_trusted_types) and a token."""
    root = tmp_path_factory.mktemp("uploads")
    models = root / "models"
    shutil.copytree(trained_models, models)
    server = Server([str(models)], cwd=root, env={"MODELPORT_ADMIN_TOKEN": ADMIN})
    try:
        server.wait_ready()
        yield server, models
    finally:
        server.stop()


def written(models: Path) -> list[str]:
    """Everything under MODEL_DIR but the uploads' own staging folder."""
    return sorted(
        str(path.relative_to(models))
        for path in models.rglob("*")
        if path.relative_to(models).parts[0] != ".uploads"
    )


# -- item 2: trusted_types and code: in an upload ------------------------------------------


@pytest.mark.parametrize(
    ("how", "trusted"),
    [
        ("system", ["posix.system"]),
        ("eval", ["builtins.eval"]),
        ("nested", ["sklearn.linear_model._logistic.LogisticRegression", "posix.system"]),
    ],
)
@pytest.mark.parametrize("model", ["iris-lr", "brand-new"])
def test_trusted_types_in_an_uploaded_model_yaml_are_refused(
    default_server: tuple[Server, Path], tmp_path: Path, how: str, trusted: list[str], model: str
) -> None:
    server, models = default_server
    marker = tmp_path / "pwned"
    before = written(models)

    response = upload(
        server, model, evil_skops(marker, how), model_yaml=f"trusted_types: {json.dumps(trusted)}"
    )

    assert_refused(response, "upload_trusted_types", "posix.system" if how != "eval" else "eval")
    assert written(models) == before  # no version folder, not even a model folder
    assert not marker.exists()
    versions = httpx.get(
        f"{server.url}/v1/admin/models/iris-lr/versions", headers=AUTH, timeout=30
    ).json()
    assert [v["version"] for v in versions["versions"]] == [1]  # no version reserved
    assert httpx.post(f"{server.url}/v1/models/iris-lr:predict", json=ROWS).status_code == 200


@pytest.mark.parametrize(
    ("model_yaml", "files", "fragment"),
    [
        ("code: [prep.py]\n", {"prep.py": b"import os\n"}, "Python files ['prep.py']"),
        ("code: [prep.txt]\n", {"prep.txt": b"import os\n"}, "lists code: ['prep.txt']"),
        ("code: [/etc/hostname]\n", {}, "code:"),
        (None, {"model.py": b"import os\n"}, "Python files"),
        (None, {"helper.pyc": b"\0"}, "Python files"),
        ("runtime: sklearn\n", {}, "'sklearn' runtime"),
        ("runtime: function\n", {}, "'function' runtime"),
    ],
)
def test_code_in_an_upload_is_refused(
    default_server: tuple[Server, Path],
    tmp_path: Path,
    model_yaml: str | None,
    files: dict[str, bytes],
    fragment: str,
) -> None:
    server, models = default_server
    marker = tmp_path / "pwned"
    before = written(models)

    response = upload(server, "iris-lr", evil_skops(marker, "system"), model_yaml, files)

    assert_refused(response, "allow_pickle_uploads", fragment)
    assert written(models) == before
    assert not marker.exists()


def test_code_in_the_models_own_model_yaml_refuses_uploads_too(
    start_server: StartServer, model_dir: Path, tmp_path: Path
) -> None:
    with (model_dir / "iris-lr" / "model.yaml").open("a") as config:
        config.write("code: [prep.py]\n")
    server = start_server([str(model_dir)], env={"MODELPORT_ADMIN_TOKEN": ADMIN})
    server.wait_ready()

    response = upload(server, "iris-lr", evil_skops(tmp_path / "pwned", "system"))

    assert_refused(response, "the model's model.yaml lists code:", "allow_pickle_uploads")
    assert not (model_dir / "iris-lr" / "2").exists()


def test_an_operator_listed_type_is_accepted_and_no_other(
    start_server: StartServer, model_dir: Path, tmp_path: Path
) -> None:
    server = start_server(
        [str(model_dir), "--upload-trusted-types", f"{QUIRKY},acme.Other"],
        env={"MODELPORT_ADMIN_TOKEN": ADMIN},
    )
    server.wait_ready()
    quirky = quirky_skops(tmp_path)

    mixed = upload(server, "quirky", quirky, model_yaml=f"trusted_types: [{QUIRKY}, posix.system]")
    assert_refused(mixed, "['posix.system']", "allowed now: acme.Other, quirky_model.QuirkyModel")
    assert not (model_dir / "quirky").exists()

    accepted = upload(server, "quirky", quirky, model_yaml=f"trusted_types: [{QUIRKY}]")
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["runtime"] == "skops"
    answer = httpx.post(f"{server.url}/v1/models/quirky:predict", json={"instances": [[0, 1]]})
    assert answer.status_code == 200 and answer.json()["predictions"] == [0.0]

    # Trusting it in model.yaml is still needed: the operator's list is a ceiling.
    untrusted = upload(server, "quirky", quirky)
    assert untrusted.status_code == 422 and QUIRKY in untrusted.json()["message"]


def test_the_payload_is_real_it_runs_where_uploads_may_run_code(
    start_server: StartServer, model_dir: Path, tmp_path: Path
) -> None:
    """The same upload on a server that allows code: the marker appears. So the refusals
    above are what kept it from running, not a harmless payload."""
    server = start_server(
        [str(model_dir), "--allow-pickle-uploads"], env={"MODELPORT_ADMIN_TOKEN": ADMIN}
    )
    server.wait_ready()
    marker = tmp_path / "pwned"

    response = upload(
        server, "iris-lr", evil_skops(marker, "system"), model_yaml="trusted_types: [posix.system]"
    )

    assert response.status_code == 201, response.text
    assert marker.exists()


def test_a_clean_skops_upload_is_accepted_by_default(default_server: tuple[Server, Path]) -> None:
    server, models = default_server
    iris = load_iris()
    clean = io.BytesIO()
    skops.io.dump(LogisticRegression(max_iter=1000).fit(iris.data, iris.target), clean)

    response = upload(server, "iris-skops", clean.getvalue(), model_yaml="description: clean\n")

    assert response.status_code == 201, response.text
    assert (models / "iris-skops" / "1" / "model.skops").is_file()


# -- item 12: code: on disk stays inside the version folder --------------------------------

PAYLOAD = "open({marker!r}, 'w').close()\n"


@pytest.mark.parametrize("how", ["absolute", "dotdot", "symlink"])
def test_code_outside_the_version_folder_is_not_imported(
    start_server: StartServer, model_dir: Path, tmp_path: Path, how: str
) -> None:
    marker = tmp_path / "pwned"
    outside = tmp_path / "outside.py"  # beside MODEL_DIR, not in it
    outside.write_text(PAYLOAD.format(marker=str(marker)))
    version = model_dir / "coded" / "1"
    version.mkdir(parents=True)
    shutil.copy(model_dir / "iris-lr" / "1" / "model.joblib", version / "model.joblib")
    if how == "absolute":
        entry = str(outside)
    elif how == "dotdot":
        entry = "../../../outside.py"
    else:
        (version / "prep.py").symlink_to(outside)
        entry = "prep.py"
    (model_dir / "coded" / "model.yaml").write_text(f"code: [{json.dumps(entry)}]\n")

    server = start_server([str(model_dir)], env={"MODELPORT_ADMIN_TOKEN": ADMIN})
    server.wait_ready()

    assert not marker.exists()
    model = httpx.get(f"{server.url}/v1/models/coded", timeout=30).json()
    assert model["state"] != "ready"
    assert "outside the version folder 1/" in model["error"], model
    refused = httpx.post(f"{server.url}/v1/models/coded:predict", json=ROWS, timeout=30)
    assert refused.status_code == 503, refused.text
    assert "outside the version folder" in server.log()
    served = httpx.post(f"{server.url}/v1/models/iris-lr:predict", json=ROWS, timeout=30)
    assert served.status_code == 200, served.text


def test_code_inside_the_version_folder_still_loads(
    start_server: StartServer, model_dir: Path
) -> None:
    version = model_dir / "iris-lr" / "1"
    (version / "lib").mkdir()
    (version / "lib" / "helpers.py").write_text("SCALE = 1\n")
    with (model_dir / "iris-lr" / "model.yaml").open("a") as config:
        config.write("code: [lib/helpers.py]\n")
    server = start_server([str(model_dir)], env={"MODELPORT_ADMIN_TOKEN": ADMIN})
    server.wait_ready()

    answer = httpx.post(f"{server.url}/v1/models/iris-lr:predict", json=ROWS, timeout=30)

    assert answer.status_code == 200, answer.text
