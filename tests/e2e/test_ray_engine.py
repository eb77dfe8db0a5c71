"""``modelport serve --engine ray``: a two-node Ray cluster on this machine, and the
configurations refused before anything starts.

Ray binds its agents to the machine's network address even when told 127.0.0.1, so the
cluster, the server and every client of this test run inside a network namespace that
has only loopback (created here, deleted at the end): nothing leaves the machine, and
Ray's fixed ports cannot collide with the services outside it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

# The network-namespace helpers, shared with make bench-ray.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
import netns

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
ADMIN = "admin-secret-for-ray-tests"
ROW = {"instances": [[5.1, 3.5, 1.4, 0.2]]}
NAMES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
HEAD_PORT = 6379  # inside the namespace: no Redis there
#: The S3-compatible server of the object-store variant, inside the namespace.
S3_PORT = 9000
S3_ENDPOINT = f"http://127.0.0.1:{S3_PORT}"
#: Every Ray command of the test in one mode, with one token of its own (none is read
#: from or left in ~/.ray); the nodes hold the store's credentials, as a cluster's
#: nodes would (modelport passes replicas the endpoint, never a secret).
RAY_ENV = {
    **os.environ,
    "RAY_AUTH_MODE": "token",
    "RAY_AUTH_TOKEN": secrets.token_hex(32),
    "RAY_USAGE_STATS_ENABLED": "0",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}
PORT = 8000


def run_cli(*args: str, hide_ray: bool = False) -> subprocess.CompletedProcess[str]:
    code = "import sys\nif sys.argv.pop(1) == 'hide': sys.modules['ray'] = None\n"
    code += "from modelport.cli import main\nmain()"
    argv = [sys.executable, "-c", code, "hide" if hide_ray else "keep", "serve", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def test_without_the_ray_extra_it_says_what_to_install(trained_models: Path) -> None:
    done = run_cli(str(trained_models), "--engine", "ray", hide_ray=True)
    assert done.returncode == 2
    assert "pip install 'modelport[ray]'" in done.stderr


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--replicas", "0"], "replicas: Input should be greater than or equal to 1"),
        (["--autoscale", "3,1"], "--autoscale 3,1: MIN is above MAX"),
        (["--ray-address", "127.0.0.1:1"], "--ray-address 127.0.0.1:1: nothing answers there"),
        (["--workers", "2"], "--workers is for --engine uvicorn; with --engine ray, give"),
    ],
)
def test_bad_ray_settings_stop_before_anything_starts(
    trained_models: Path, flags: list[str], message: str
) -> None:
    done = run_cli(str(trained_models), "--engine", "ray", *flags)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr


def test_ray_settings_without_the_ray_engine_are_refused(trained_models: Path) -> None:
    done = run_cli(str(trained_models), "--replicas", "3", "--ray-address", "127.0.0.1:6379")
    assert done.returncode == 2
    assert "--replicas, --ray-address need --engine ray" in done.stderr


def test_a_relative_model_folder_cannot_reach_a_remote_cluster(trained_models: Path) -> None:
    # 192.0.2.0/24 is for documentation: the path is refused before any connection.
    done = subprocess.run(
        [BIN / "modelport", "serve", "models", "--engine", "ray", "--ray-address", "192.0.2.7:1"],
        cwd=trained_models.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "is a path relative to this folder" in done.stderr


# -- a two-node cluster ----------------------------------------------------------------


class Cluster:
    """Clients inside the namespace: a pool of threads that entered it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.url = f"http://127.0.0.1:{PORT}"
        self.pool = ThreadPoolExecutor(8, initializer=netns.enter, initargs=(name,))

    def exec(self, *argv: str | Path | int, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [netns.IP, "netns", "exec", self.name, *map(str, argv)],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
            env=RAY_ENV,
            **kwargs,
        )

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request on a new connection (the proxy spreads connections)."""

        def send() -> httpx.Response:
            return httpx.request(method, self.url + path, timeout=30, **kwargs)

        return self.pool.submit(send).result()

    def spread(self, method: str, path: str, count: int, **kwargs: Any) -> list[httpx.Response]:
        """``count`` requests at once, each on its own connection."""

        def send(_: int) -> httpx.Response:
            return httpx.request(method, self.url + path, timeout=30, **kwargs)

        return list(self.pool.map(send, range(count)))


def _wait_ready(cluster: Cluster, server: subprocess.Popen[str], log: Path) -> None:
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"modelport serve --engine ray exited:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if cluster.call("GET", "/health/ready").status_code == 200:
                return
        time.sleep(0.2)
    pytest.fail(f"not ready in 150 s:\n{log.read_text()[-3000:]}")


def _replicas_answering(cluster: Cluster, version: int, seconds: float) -> set[str]:
    """The replicas seen answering iris-lr with ``version`` within ``seconds``."""
    seen: dict[str, int] = {}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for answer in cluster.spread("POST", "/v1/models/iris-lr:predict", 8, json=ROW):
            assert answer.status_code == 200, answer.text
            seen[answer.headers["x-modelport-replica"]] = answer.json()["model_version"]
        if len(seen) == 2 and set(seen.values()) == {version}:
            break
    return {replica for replica, v in seen.items() if v == version}


#: Fills the local S3 server (inside the namespace) with the example models.
_FILL_BUCKET = """
import sys, time
import s3fs
endpoint, source = sys.argv[1], sys.argv[2]
fs = s3fs.S3FileSystem(key="testing", secret="testing", endpoint_url=endpoint)
for _ in range(100):  # the server is starting
    try:
        fs.mkdir("modelport-ray")
        break
    except OSError:
        time.sleep(0.1)
for name in ("iris-lr", "iris-dt"):
    fs.put(f"{source}/{name}", f"modelport-ray/models/{name}", recursive=True)
"""


@pytest.mark.slow
def test_two_nodes_two_replicas(trained_models: Path, tmp_path: Path) -> None:
    """One cluster serves a folder both nodes see, then an s3:// model store (moto's
    server, inside the namespace too), each through the same checks."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.fail("the Ray test needs root and iproute2 (ip netns), as CI has")
    models = tmp_path / "models"
    for name in ("iris-lr", "iris-dt"):
        shutil.copytree(trained_models / name, models / name)
    ray = BIN / "ray"
    with netns.namespace("mp-ray") as name:
        cluster = Cluster(name)
        moto: subprocess.Popen[bytes] | None = None
        try:
            head = cluster.exec(
                ray, "start", "--head", "--num-cpus", "1", "--port", HEAD_PORT,
                "--node-ip-address", "127.0.0.1", "--include-dashboard", "false",
                "--disable-usage-stats",
            )  # fmt: skip
            assert head.returncode == 0, head.stderr[-2000:]
            worker = cluster.exec(
                ray, "start", "--address", f"127.0.0.1:{HEAD_PORT}", "--num-cpus", "1",
                "--node-ip-address", "127.0.0.1", "--dashboard-agent-listen-port", "52366",
                "--disable-usage-stats",
            )  # fmt: skip
            assert worker.returncode == 0, worker.stderr[-2000:]

            _serve_and_check(cluster, [models], RAY_ENV, tmp_path / "folder.log", trained_models)

            # The same with the models in an S3-compatible store every node reaches.
            # Stopped with everything else in the namespace.
            with (tmp_path / "moto.log").open("w") as moto_log:
                moto = subprocess.Popen(
                    [netns.IP, "netns", "exec", name, BIN / "moto_server", "-H", "127.0.0.1",
                     "-p", str(S3_PORT)],
                    stdout=moto_log, stderr=subprocess.STDOUT,
                )  # fmt: skip
            filled = cluster.exec(sys.executable, "-c", _FILL_BUCKET, S3_ENDPOINT, trained_models)
            assert filled.returncode == 0, filled.stderr[-2000:]
            store_env = {**RAY_ENV, "AWS_ENDPOINT_URL": S3_ENDPOINT, "AWS_REGION": "us-east-1"}
            store_args: list[str | Path] = [
                "s3://modelport-ray/models",
                "--database-url", f"sqlite:///{tmp_path / 'shared.db'}",
                "--data-dir", tmp_path / "copies",
            ]  # fmt: skip
            # Ray's replacing a killed replica has nothing to do with where models are:
            # shown once, above.
            _serve_and_check(
                cluster, store_args, store_env, tmp_path / "s3.log", trained_models, kill=False
            )
            assert [p.name for p in (tmp_path / "copies" / "store").iterdir()]  # a local copy
        finally:
            cluster.pool.shutdown()
            # The cluster this test started: every process in its namespace, and no other
            # (`ray stop` would stop every Ray process of this user on the machine).
            netns.stop_all(name)
            if moto is not None:
                moto.wait(15)
        assert [netns.cmdline(p) for p in netns.pids(name)] == []


def _serve_and_check(
    cluster: Cluster,
    where: list[str | Path],
    env: dict[str, str],
    log: Path,
    trained_models: Path,
    kill: bool = True,
) -> None:
    """modelport serve on the cluster: both replicas answer every protocol, an upload
    through one is served by both within 2 s, a killed replica is replaced while the
    service answers (``kill``), and SIGTERM stops the command cleanly."""
    with log.open("w") as out:
        server = subprocess.Popen(
            [netns.IP, "netns", "exec", cluster.name, BIN / "modelport", "serve", *where,
             "--engine", "ray", "--replicas", "2", "--ray-address",
             f"127.0.0.1:{HEAD_PORT}", "--port", str(PORT), "--admin-token", ADMIN,
             "--allow-pickle-uploads", "--sync-interval", "0.5"],
            stdout=out, stderr=subprocess.STDOUT, text=True, env=env,
        )  # fmt: skip
    try:
        _wait_ready(cluster, server, log)

        # Both replicas answer, every protocol as with uvicorn.
        assert len(_replicas_answering(cluster, 1, 30)) == 2
        v2 = cluster.call(
            "POST",
            "/v2/models/iris-lr/infer",
            json={
                "inputs": [
                    {"name": n, "datatype": "FP64", "shape": [1], "data": [v]}
                    for n, v in zip(NAMES, ROW["instances"][0], strict=True)
                ]
            },
        )
        assert v2.status_code == 200, v2.text
        assert v2.json()["outputs"][0]["data"] == ["setosa"]
        mlflow = cluster.call(
            "POST",
            "/v1/models/iris-lr/invocations",
            json={"dataframe_split": {"columns": NAMES, "data": ROW["instances"]}},
        )
        assert mlflow.json() == {"predictions": ["setosa"]}

        # An upload through one replica is served by both within 2 s.
        upload = cluster.call(
            "POST",
            "/v1/admin/models/iris-lr/versions",
            params={"filename": "model.joblib"},
            content=(trained_models / "iris-dt" / "1" / "model.joblib").read_bytes(),
            headers={"Authorization": f"Bearer {ADMIN}"},
        )
        assert upload.status_code == 201, upload.text
        uploaded = time.monotonic()
        assert len(_replicas_answering(cluster, 2, 2.0)) == 2
        assert time.monotonic() - uploaded < 2.5  # the last round of requests included

        if kill:
            _kill_a_replica(cluster)

        # A clean stop: the deployment goes, the command exits 0.
        server.send_signal(signal.SIGTERM)
        assert server.wait(60) == 0, log.read_text()[-3000:]
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def _kill_a_replica(cluster: Cluster) -> None:
    """One replica killed: Ray replaces it, and the service keeps answering."""
    replicas = [p for p in netns.pids(cluster.name) if "ServeReplica:modelport" in netns.cmdline(p)]
    assert len(replicas) == 2, [netns.cmdline(p) for p in netns.pids(cluster.name)]
    os.kill(replicas[0], signal.SIGKILL)
    answered = 0
    deadline = time.monotonic() + 30
    while answered < 20 and time.monotonic() < deadline:
        answer = cluster.call("POST", "/v1/models/iris-lr:predict", json=ROW)
        answered = answered + 1 if answer.status_code == 200 else 0
    assert answered == 20
