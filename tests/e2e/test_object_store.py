"""``modelport serve s3://bucket/prefix``: the models in an S3-compatible store (moto's
server, started here on a free port), each server process with its own local copy, one
shared database; an upload through one server lands in the bucket and every server
serves it within 2 s; a fresh start serves it again from the bucket."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services import free_port

from .conftest import SRC, StartServer
from .test_admin_sync import WITHIN_S, converged_after, served_version

pytestmark = pytest.mark.e2e

BUCKET = "modelport-test"
URL = f"s3://{BUCKET}/models"
ADMIN = "admin-secret-for-store-tests"


def aws_env(endpoint: str) -> dict[str, str]:
    """What points botocore (through s3fs) at the local server."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


@pytest.fixture(scope="module")
def s3(trained_models: Path) -> Iterator[tuple[dict[str, str], Any]]:
    """A local S3 server holding the example models under s3://modelport-test/models:
    the servers' environment, and a client of the bucket for the test's own looks."""
    server_module = pytest.importorskip("moto.server")
    s3fs = pytest.importorskip("s3fs")
    port = free_port()
    moto = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    env = aws_env(f"http://127.0.0.1:{port}")
    fs = s3fs.S3FileSystem(
        key="testing",
        secret="testing",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        skip_instance_cache=True,
        use_listings_cache=False,
    )
    fs.mkdir(BUCKET)
    for model in ("iris-lr", "iris-dt"):
        fs.put(str(trained_models / model), f"{BUCKET}/models/{model}", recursive=True)
    try:
        yield env, fs
    finally:
        moto.stop()


def upload(url: str, data: bytes) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/admin/models/iris-lr/versions",
        params={"filename": "model.joblib"},
        content=data,
        headers={"Authorization": f"Bearer {ADMIN}"},
        timeout=60,
    )


def test_servers_share_the_bucket_and_follow_an_upload(
    start_server: StartServer, tmp_path: Path, trained_models: Path, s3: tuple[dict[str, str], Any]
) -> None:
    env, fs = s3
    shared = ["--database-url", f"sqlite:///{tmp_path / 'shared.db'}", "--admin-token", ADMIN]
    args = [URL, *shared, "--allow-pickle-uploads"]
    # Each server its own local copy (its data dir); the first with two workers.
    first = start_server([*args, "--workers", "2", "--data-dir", str(tmp_path / "a")], env=env)
    second = start_server([*args, "--data-dir", str(tmp_path / "b")], env=env)
    first.wait_ready()
    second.wait_ready()
    assert served_version(first.url) == 1
    assert served_version(second.url) == 1
    assert served_version(second.url, "iris-dt") == 1

    data = (trained_models / "iris-dt" / "1" / "model.joblib").read_bytes()
    created = upload(first.url, data)
    assert created.status_code == 201, created.text
    since = time.monotonic()
    assert created.json()["version"] == 2
    assert fs.cat(f"{BUCKET}/models/iris-lr/2/model.joblib") == data
    for url in (second.url, first.url):
        lag = converged_after(url, 2, since)
        assert lag <= WITHIN_S, f"{url} served version 1 for {lag:.2f} s after the upload"
    assert (tmp_path / "b" / "store").exists()  # the second server's own copy
    assert first.stop() == 0
    assert second.stop() == 0

    # A fresh start, with an empty copy, serves what the bucket holds.
    again = start_server([*args, "--data-dir", str(tmp_path / "c")], env=env)
    again.wait_ready()
    assert served_version(again.url) == 2

    # Deleting a version deletes it in the bucket too.
    deleted = httpx.delete(
        f"{again.url}/v1/admin/models/iris-lr/versions/2",
        headers={"Authorization": f"Bearer {ADMIN}"},
    )
    assert deleted.status_code == 200, deleted.text
    assert not fs.exists(f"{BUCKET}/models/iris-lr/2/model.joblib")
    assert served_version(again.url) == 1

    # A store that cannot take the files: the upload is a clear 503, and nothing changes.
    fs.rm(BUCKET, recursive=True)
    failed = upload(again.url, data)
    assert failed.status_code == 503, failed.text
    assert failed.json()["error"] == "model_store_unavailable"
    assert served_version(again.url) == 1
    copy = next((tmp_path / "c" / "store").iterdir()) / "iris-lr"  # no half version kept
    assert sorted(p.name for p in copy.iterdir() if p.is_dir()) == ["1"]


def run_serve(
    *args: str, env: dict[str, str], hide_s3fs: bool = False
) -> subprocess.CompletedProcess[str]:
    code = "import sys\nif sys.argv.pop(1) == 'hide': sys.modules['s3fs'] = None\n"
    code += "from modelport.cli import main\nmain()"
    argv = [sys.executable, "-c", code, "hide" if hide_s3fs else "keep", "serve", *args]
    full = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(SRC), "HOME": "/nonexistent", **env}
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False, env=full)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("no database", "is an object store: give --database-url"),
        ("watch", "--watch looks at a local folder"),
        ("no bucket", "the bucket 'no-such-bucket' does not exist"),
        ("unreachable", "cannot be reached"),
        ("no extra", "pip install 'modelport[s3]'"),
    ],
)
def test_what_cannot_work_stops_the_start_with_one_line(
    s3: tuple[dict[str, str], Any], tmp_path: Path, case: str, message: str
) -> None:
    env = dict(s3[0])
    url, flags = URL, ["--database-url", f"sqlite:///{tmp_path / 'db.sqlite'}"]
    if case == "no database":
        flags = []
    elif case == "watch":
        flags.append("--watch")
    elif case == "no bucket":
        url = "s3://no-such-bucket/models"
    elif case == "unreachable":
        env["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{free_port()}"
    done = run_serve(
        url, *flags, "--data-dir", str(tmp_path), env=env, hide_s3fs=case == "no extra"
    )
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr
