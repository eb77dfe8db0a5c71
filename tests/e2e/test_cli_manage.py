"""The operator commands against a real server: versions, alias, rollback, delete, reload,
predict, upload (with model.yaml and code), audit, status and models — what each prints,
what ``--json`` gives, and the exit codes scripts rely on (0 ok, 1 the server refused,
2 usage, 3 no server)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from modelport.cli import main
from services import free_port

from .conftest import MODELPORT, SRC, Server, StartServer

pytestmark = pytest.mark.e2e

TOKEN = "cli-test-token"
#: A class only its own file defines: its pickle loads only with that file beside it.
HALVER = (
    "class Halver:\n    def predict(self, rows):\n        return [row[0] / 2 for row in rows]\n"
)


@pytest.fixture(scope="module")
def server(trained_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("cli-manage")
    shutil.copytree(trained_models, root / "models")
    started = Server([str(root / "models"), "--admin-token", TOKEN, "--allow-pickle-uploads"], root)
    try:
        started.wait_ready()
        yield started
    finally:
        started.stop()


def run(server: Server, *args: str, stdin: str | None = None) -> Result:
    """``modelport ARGS`` against the server, its URL and token from the environment."""
    env = {"MODELPORT_URL": server.url, "MODELPORT_ADMIN_TOKEN": TOKEN}
    return CliRunner().invoke(main, list(args), env=env, input=stdin, catch_exceptions=False)


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def refused(result: Result, *words: str) -> None:
    """Exit code 1 and one error line on standard error naming the server's message."""
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for word in words:
        assert word in lines[0]


def test_versions_lists_each_version_with_its_aliases(server: Server) -> None:
    result = run(server, "versions", "iris-dt")
    assert result.exit_code == 0, result.output
    heading, first = result.stdout.splitlines()[:2]
    assert heading.split() == ["VERSION", "STATE", "RUNTIME", "SIZE", "CREATED", "BY", "ALIASES"]
    assert first.split()[:3] == ["1", "ready", "sklearn"]
    history = as_json(run(server, "versions", "iris-dt", "--json"))
    assert history["latest"] == 1 and history["versions"][0]["version"] == 1
    refused(run(server, "versions", "no-such-model"), "404", "no-such-model")
    assert run(server, "versions").exit_code == 2
    assert run(server, "alias", "set", "iris-lr", "production").exit_code == 2
    assert run(server, "status", "--url", "ftp://somewhere").exit_code == 2
    assert run(server, "upload", __file__).exit_code == 2  # no --model
    assert run(server, "upload", "no-such-file.onnx", "--model", "x").exit_code == 2
    assert run(server, "rollback").exit_code == 2


def test_upload_alias_rollback_and_delete(server: Server, tmp_path: Path) -> None:
    artifact = tmp_path / "model.joblib"
    shutil.copy(Path(server.args[0]) / "iris-lr" / "1" / "model.joblib", artifact)
    yaml = Path(server.args[0]) / "iris-dt" / "model.yaml"
    first = as_json(run(server, "upload", str(artifact), "--model", "flowers", "--json"))
    assert first["version"] == 1
    second = run(
        server, "upload", str(artifact), "--model", "flowers", "--yaml", str(yaml),
        "--alias", "production",
    )  # fmt: skip
    assert second.exit_code == 0, second.output
    assert "flowers version 2 is ready" in second.stdout and "production -> 2" in second.stdout

    assert run(server, "alias", "set", "flowers", "production", "1").stdout == (
        "flowers: production -> 1\n"
    )
    moved = as_json(run(server, "rollback", "flowers", "--json"))
    assert (moved["version"], moved["previous"]) == (2, 1)
    assert as_json(run(server, "versions", "flowers", "--json"))["aliases"] == {"production": 2}
    refused(run(server, "rollback", "flowers", "canary"), "no alias 'canary'")

    refused(run(server, "delete", "flowers", "2"), "409", "production")
    assert run(server, "delete", "flowers", "1").stdout == "flowers: version 1 deleted\n"
    refused(run(server, "delete", "flowers", "1"), "404")
    assert run(server, "delete", "flowers", "zero").exit_code == 2

    assert as_json(run(server, "alias", "rm", "flowers", "production", "--json"))["deleted"]
    refused(run(server, "alias", "rm", "flowers", "production"), "production")
    refused(run(server, "alias", "set", "flowers", "production", "9"), "9")


def test_upload_creates_native_and_code_needing_models(server: Server, tmp_path: Path) -> None:
    import xgboost

    booster = xgboost.train(
        {"objective": "reg:squarederror", "max_depth": 1},
        xgboost.DMatrix([[0.0], [1.0], [2.0], [3.0]], label=[0.0, 1.0, 2.0, 3.0]),
        num_boost_round=2,
    )
    booster.save_model(str(tmp_path / "model.json"))
    (tmp_path / "model.yaml").write_text("runtime: xgboost\n")
    created = run(
        server, "upload", str(tmp_path / "model.json"), "--model", "native-xgb",
        "--yaml", str(tmp_path / "model.yaml"), "--json",
    )  # fmt: skip
    assert as_json(created)["runtime"] == "xgboost"

    code = tmp_path / "code"
    code.mkdir()
    (code / "model.py").write_text(HALVER)
    pickle_it = "import pickle, sys, model; pickle.dump(model.Halver(), open(sys.argv[1], 'wb'))"
    subprocess.run(
        [sys.executable, "-c", pickle_it, str(tmp_path / "halver.pkl")],
        cwd=code,
        env={**os.environ, "PYTHONPATH": str(code)},
        check=True,
    )
    refused(run(server, "upload", str(tmp_path / "halver.pkl"), "--model", "halver"), "422")
    uploaded = run(
        server, "upload", str(tmp_path / "halver.pkl"), "--model", "halver",
        "--code", str(code / "model.py"),
    )  # fmt: skip
    assert uploaded.exit_code == 0, uploaded.output
    assert "halver version 2 is ready" in uploaded.stdout
    answer = as_json(run(server, "predict", "halver", "--json", stdin="[[8.0], [3.0]]"))
    assert answer["predictions"] == [4.0, 1.5]


def test_predict_prints_a_table_from_csv_or_json(server: Server, tmp_path: Path) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text(
        "sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n"
    )
    table = run(server, "predict", "iris-lr", "-f", str(rows), "--probabilities")
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["ROW", "PREDICTION", "SETOSA", "VERSICOLOR", "VIRGINICA"]
    assert lines[1].split()[:2] == ["0", "setosa"] and lines[2].split()[:2] == ["1", "virginica"]
    assert "model iris-lr version 1" in table.stderr
    answer = as_json(
        run(server, "predict", "iris-lr", "--version", "1", "--json", stdin="[[5.1,3.5,1.4,0.2]]")
    )
    assert answer["predictions"] == ["setosa"] and answer["model_version"] == 1
    refused(run(server, "predict", "iris-lr", "--version", "7", "-f", str(rows)), "404")
    refused(run(server, "predict", "iris-lr", stdin="[[1, 2]]"), "422", "4 features")
    assert run(server, "predict", "iris-lr", stdin="[[1,2").exit_code == 2


def test_reload_audit_and_status(server: Server) -> None:
    reloaded = run(server, "reload", "iris-dt")
    assert reloaded.stdout.splitlines()[1].split() == ["iris-dt", "unchanged"]
    assert set(as_json(run(server, "reload", "--json"))["models"]) >= {"iris-lr", "iris-dt"}
    refused(run(server, "reload", "no-such-model"), "404")

    audit = run(server, "audit", "iris-dt", "--limit", "1")
    assert audit.stdout.splitlines()[0].split()[:5] == [
        "AT", "ACTOR", "ACTION", "TARGET", "OUTCOME",
    ]  # fmt: skip
    assert audit.stdout.splitlines()[1].split()[1:5] == ["admin-token", "reload", "iris-dt", "ok"]
    assert len(as_json(run(server, "audit", "--limit", "2", "--json"))["entries"]) == 2
    assert run(server, "audit", "--limit", "0").exit_code == 2

    status = run(server, "status")
    assert status.exit_code == 0, status.output
    assert "health:   ready" in status.stdout and "workers:  1" in status.stdout
    assert "database: sqlite, answering" in status.stdout
    assert "cache:    off, per worker" in status.stdout
    shown = as_json(run(server, "status", "--json"))
    assert shown["database"] == {"backend": "sqlite", "ready": True, "error": None}
    assert {"iris-lr", "iris-dt"} <= {m["name"] for m in shown["models"]}


def test_status_says_when_the_database_does_not_answer(
    start_server: StartServer, model_dir: Path
) -> None:
    url = f"postgresql://127.0.0.1:{free_port()}/gone"
    server = start_server(
        [str(model_dir), "--admin-token", TOKEN, "--database-url", url, "--database-optional"]
    )
    server.wait_ready()
    status = run(server, "status")
    assert status.exit_code == 0, status.output
    assert "database: postgresql, not answering (the database is unavailable" in status.stdout
    assert as_json(run(server, "status", "--json"))["database"]["ready"] is False


def test_models_is_a_table_and_a_wrong_token_is_an_error(server: Server) -> None:
    table = run(server, "models")
    assert table.stdout.split()[:5] == ["MODEL", "LATEST", "VERSIONS", "STATE", "ALIASES"]
    assert as_json(run(server, "models", "--json"))["models"][0]["name"]
    for command in (["models"], ["status"], ["versions", "iris-lr"], ["audit"]):
        refused(run(server, *command, "--token", "wrong"), "403")


def test_exit_codes_of_the_process_itself(server: Server) -> None:
    """As a shell script sees them: 1 refused (one line), 3 no server."""

    def shell(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(MODELPORT), *args],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(SRC), "MODELPORT_ADMIN_TOKEN": TOKEN},
            timeout=60,
            check=False,
        )

    wrong = shell("versions", "iris-lr", "--url", server.url, "--token", "wrong")
    assert wrong.returncode == 1 and wrong.stdout == ""
    assert wrong.stderr.strip() == (
        "Error: the server answered 403: this token is not valid for the management API"
    )
    nobody = shell("status", "--url", f"http://127.0.0.1:{free_port()}")
    assert nobody.returncode == 3 and "cannot reach" in nobody.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["versions", "x"],
        ["alias", "set", "x", "a", "1"],
        ["alias", "rm", "x", "a"],
        ["rollback", "x"],
        ["delete", "x", "1"],
        ["reload"],
        ["predict", "x", "-f", "-"],
        ["audit"],
        ["status"],
        ["models"],
        ["upload", __file__, "--model", "x"],
    ],
)
def test_every_command_says_when_it_cannot_connect(command: list[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(main, [*command, "--url", url], input="[[1]]")
    assert result.exit_code == 3, result.output
    assert result.stderr.startswith(f"Error: cannot reach {url}")
