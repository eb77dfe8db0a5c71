"""Where the database is, from the user's side: the commands that only read it never
create one and name the one they looked in; the server keeps its SQLite file in the
model folder, whatever the current folder, and stops when its database cannot be reached
unless told to serve without it."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

import httpx

from e2e.conftest import MODELPORT, StartServer
from services import free_port

IRIS_ROW = {"instances": [[5.1, 3.5, 1.4, 0.2]]}


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``modelport ARGS`` in ``cwd``, with no MODELPORT_* setting from the outside."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELPORT_")}
    return subprocess.run(
        [str(MODELPORT), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def everything_in(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_reading_commands_in_an_empty_folder_create_nothing(tmp_path: Path) -> None:
    """`modelport predictions export iris` (and `tokens list`, `tokens revoke`) in an
    empty folder: exit code 1, one line naming the database looked for, no file made."""
    empty = tmp_path / "empty"
    empty.mkdir()
    expected = empty / "models" / ".modelport" / "modelport.db"
    for args in (
        ["predictions", "export", "iris"],
        ["tokens", "list"],
        ["tokens", "revoke", "ci"],
    ):
        result = run(*args, cwd=empty)
        assert result.returncode == 1, result
        assert result.stdout == ""
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert f"no database at {expected}" in lines[0]
        assert "--model-dir" in lines[0]
        assert everything_in(empty) == []


def test_reading_commands_name_an_unreachable_database_without_its_password(
    tmp_path: Path,
) -> None:
    port = free_port()  # nothing listens there
    for url, shown in (
        (f"mysql+pymysql://root:s3cret@127.0.0.1:{port}/test", "root:***@127.0.0.1"),
        (f"postgresql+psycopg://me:s3cret@127.0.0.1:{port}/test", "me:***@127.0.0.1"),
    ):
        result = run("predictions", "export", "iris", "--database-url", url, cwd=tmp_path)
        assert result.returncode == 1
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert f"cannot reach the database {url.split('://')[0]}://{shown}" in result.stderr
        assert "s3cret" not in result.stderr
    # A database server that answers but holds nothing of modelport's: nothing is made there.
    sqlite_file = tmp_path / "other.db"
    sqlite3.connect(sqlite_file).execute("CREATE TABLE t (x)").connection.close()
    result = run("tokens", "list", "--database-url", f"sqlite:///{sqlite_file}", cwd=tmp_path)
    assert result.returncode == 1
    assert f"the database {sqlite_file} holds no modelport tables" in result.stderr
    tables = sqlite3.connect(sqlite_file).execute("SELECT name FROM sqlite_master").fetchall()
    assert tables == [("t",)]


def test_the_server_keeps_its_database_in_the_model_folder(
    start_server: StartServer, model_dir: Path, tmp_path: Path
) -> None:
    """Started from one folder, read from another: the same file, MODEL_DIR/.modelport."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    server = start_server([str(model_dir), "--log-flush-interval", "0.1"], cwd=elsewhere)
    server.wait_ready()
    database = model_dir / ".modelport" / "modelport.db"
    assert f"database    sqlite:///{database}" in server.log()
    assert not (elsewhere / "modelport.db").exists()
    answer = httpx.post(f"{server.url}/v1/models/iris-lr:predict", json=IRIS_ROW)
    assert answer.status_code == 200
    logged = f"{server.url}/v1/models/iris-lr/predictions"
    for _ in range(100):
        if httpx.get(logged, headers=server.admin).json()["predictions"]:
            break
        time.sleep(0.1)
    # From the folder holding ./models, with no option at all ...
    here = run("predictions", "export", "iris-lr", cwd=model_dir.parent)
    assert here.returncode == 0, here.stderr
    assert "exported 1 prediction(s) of 'iris-lr'" in here.stderr
    # ... and from anywhere, with the model folder.
    there = run("predictions", "export", "iris-lr", "--model-dir", str(model_dir), cwd=elsewhere)
    assert there.returncode == 0, there.stderr
    assert there.stdout == here.stdout
    assert "models/" not in " ".join(everything_in(elsewhere))  # nothing created there
    # The model folder's .modelport is no model.
    names = [m["name"] for m in httpx.get(f"{server.url}/v1/models").json()["models"]]
    assert ".modelport" not in names


def test_an_old_modelport_db_in_the_current_folder_keeps_working(
    start_server: StartServer, model_dir: Path, tmp_path: Path
) -> None:
    """Upgrading loses nothing: ./modelport.db (where it used to be) is used, and the
    start says how to move it; after the move, the model folder's is used."""
    made = run("tokens", "create", "old-bot", "--data-dir", str(tmp_path), cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    server = start_server([str(model_dir)], cwd=tmp_path)
    server.wait_ready()
    log = server.log()
    assert f"warning: using {tmp_path / 'modelport.db'}, the database in the current folder" in log
    assert f"mv {tmp_path / 'modelport.db'}* {model_dir / '.modelport'}/" in log
    assert f"database    sqlite:///{tmp_path / 'modelport.db'}" in log
    token = made.stdout.strip()
    versions = f"{server.url}/v1/admin/models/iris-lr/versions"
    auth = {"Authorization": f"Bearer {token}"}
    assert httpx.get(versions, headers=auth).status_code == 200  # the old database's token
    listed = run("tokens", "list", cwd=tmp_path)  # the reading command finds it too
    assert listed.returncode == 0 and "old-bot" in listed.stdout, listed
    assert server.stop() == 0
    # Moved as the warning says: the next start uses it, with no warning.
    (model_dir / ".modelport").mkdir(exist_ok=True)
    for part in tmp_path.glob("modelport.db*"):
        shutil.move(part, model_dir / ".modelport" / part.name)
    again = start_server([str(model_dir)], cwd=tmp_path)
    again.wait_ready()
    assert "warning" not in again.log()
    moved = httpx.get(f"{again.url}/v1/admin/models/iris-lr/versions", headers=auth)
    assert moved.status_code == 200


def test_an_unreachable_database_stops_the_start_unless_optional(
    start_server: StartServer, model_dir: Path
) -> None:
    """`modelport serve models --database-url mysql+pymysql://root@127.0.0.1:1/test`:
    exit 2 and one line; with --database-optional it serves predictions and says what
    is missing."""
    url = f"mysql+pymysql://root:s3cret@127.0.0.1:{free_port()}/test"
    stopped = start_server([str(model_dir), "--database-url", url])
    assert stopped.process.wait(timeout=60) == 2
    lines = stopped.log().strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("Error: cannot reach the database mysql+pymysql://root:***@")
    assert "--database-optional" in lines[0]
    assert "s3cret" not in stopped.log()

    optional = start_server([str(model_dir), "--database-url", url, "--database-optional"])
    optional.wait_ready()
    answer = httpx.post(f"{optional.url}/v1/models/iris-lr:predict", json=IRIS_ROW)
    assert answer.status_code == 200, answer.text
    log = optional.log()
    assert "serving without it (database_optional)" in log
    assert "the prediction log only waits in memory" in log
    assert "s3cret" not in log
    # The environment variable says the same.
    by_env = start_server(
        [str(model_dir)],
        env={"MODELPORT_DATABASE_URL": url, "MODELPORT_DATABASE_OPTIONAL": "true"},
    )
    by_env.wait_ready()


def test_a_model_folder_that_cannot_hold_the_database_stops_the_start(
    start_server: StartServer, model_dir: Path, tmp_path: Path
) -> None:
    if os.geteuid() == 0:  # root writes anywhere: make the folder's place a file instead
        (model_dir / ".modelport").write_text("not a folder")
    else:
        model_dir.chmod(0o555)
    try:
        server = start_server([str(model_dir)])
        assert server.process.wait(timeout=60) == 2
        line = server.log().strip().splitlines()[-1]
        assert f"cannot create the database {model_dir / '.modelport' / 'modelport.db'}" in line
        assert "--data-dir" in line
        # With --data-dir elsewhere it serves.
        elsewhere = start_server([str(model_dir), "--data-dir", str(tmp_path / "data")])
        elsewhere.wait_ready()
    finally:
        model_dir.chmod(0o755)
