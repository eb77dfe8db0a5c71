"""The servers under test: modelport (from the project venv) and the baselines (each from
its own venv under ``bench/.venvs``), as command lines for a given model folder and port."""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from procs import HOST, Launch, free_port

__all__ = [
    "BENCH_DIR",
    "DEV_VENV",
    "EVERY_RUNTIME_SPEC",
    "REPO_DIR",
    "SERVERS",
    "WORKER_SPECS",
    "Context",
    "ServerSpec",
]

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
VENVS = BENCH_DIR / ".venvs"
BASELINES = BENCH_DIR / "baselines"
#: modelport installed as `modelport[sklearn,grpc]` (setup_env.py); the development venv
#: (REPO_DIR / ".venv") trains the models and serves "every example".
MODELPORT_VENV = VENVS / "modelport"
DEV_VENV = REPO_DIR / ".venv"
ALL_WORKLOADS = frozenset({"lr-1", "rf-1", "lr-1000"})


@dataclass(frozen=True)
class Context:
    """What every launch needs: where to run, and extra flags for modelport."""

    workdir: Path
    modelport_args: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServerSpec:
    """One column of the table."""

    key: str
    title: str
    protocol: str  # request format, see workloads.request_path
    workloads: frozenset[str]
    launch: Callable[[Context, Path, int], Launch]  # (context, model folder, port)
    venv: Path
    #: Called with the server's base URL once it answers (e.g. to set a shadow version).
    after_start: Callable[[str], None] | None = None


def _clean_env(**extra: str) -> dict[str, str]:
    """This environment without settings that would change a server's behaviour."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MODELPORT_", "MLSERVER_"))
        # PYTHONDONTWRITEBYTECODE would make every modelport start compile its sources
        # again; an installed package has its .pyc files, as the baselines' venvs do.
        and key not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "PYTHONDONTWRITEBYTECODE"}
    }
    return {**env, **extra}


def _without_numpy_linear(ctx: Context, models: Path, port: int) -> Path:
    """A copy of ``models`` whose iris-lr says ``numpy_linear: false`` in its model.yaml."""
    copy = ctx.workdir / f"models-sklearn-{port}"
    shutil.copytree(models, copy)
    spec = copy / "iris-lr" / "model.yaml"
    spec.write_text(spec.read_text() + "numpy_linear: false\n")
    return copy


#: The admin token of the servers that need a management call before they are measured.
SHADOW_TOKEN = "bench-admin-token-for-the-shadow-runs"  # noqa: S105 (loopback bench servers)
#: iris-lr's version 2 in the shadow runs: a model whose every call fails, or hangs.
_SHADOW_CODE = {
    # Zeros (the load's warm-up call) pass, so that the version loads; every real row fails.
    "raises": "def predict(sepal_length: float, sepal_width: float, petal_length: float,"
    " petal_width: float) -> str:\n    if sepal_length > 0:\n"
    "        raise RuntimeError('a broken candidate')\n    return 'setosa'\n",
    "sleeps": "import time\n\n\ndef predict(sepal_length: float, sepal_width: float,"
    " petal_length: float, petal_width: float) -> str:\n    if sepal_length > 0:\n"
    "        time.sleep(2)\n    return 'setosa'\n",
}


def _with_bad_shadow(kind: str) -> Callable[[Context, Path, int], Path]:
    """A copy of ``models`` where iris-lr version 1 answers by default (model.yaml
    ``default: 1``) and version 2 is a function model that raises or sleeps 2 s."""

    def prepare(ctx: Context, models: Path, port: int) -> Path:
        copy = ctx.workdir / f"models-shadow-{kind}-{port}"
        shutil.copytree(models, copy)
        spec = copy / "iris-lr" / "model.yaml"
        spec.write_text(spec.read_text() + "default: 1\n")
        (copy / "iris-lr" / "2").mkdir()
        (copy / "iris-lr" / "2" / "model.py").write_text(_SHADOW_CODE[kind])
        # Its own model.yaml, so that iris-lr's (class labels for the pickle) does not apply.
        (copy / "iris-lr" / "2" / "model.yaml").write_text(f"description: a shadow that {kind}\n")
        return copy

    return prepare


def _shadow_version_2(base_url: str) -> None:
    """Every answer of iris-lr copied to its version 2, off the request path."""
    request = urllib.request.Request(
        f"{base_url}/v1/admin/models/iris-lr/shadow",
        data=json.dumps({"version": "2"}).encode(),
        method="PUT",
        headers={"Authorization": f"Bearer {SHADOW_TOKEN}", "Content-Type": "application/json"},
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                answer.read()
                return
        except urllib.error.HTTPError as exc:
            # 503 while the server still settles (its database, the version's load).
            if exc.code != 503 or time.monotonic() > deadline:
                raise RuntimeError(f"setting the shadow: {exc.code} {exc.read()!r}") from exc
            time.sleep(0.5)


def _without_monitoring(ctx: Context, models: Path, port: int) -> Path:
    """A copy of ``models`` whose models say ``monitor: false`` in their model.yaml."""
    copy = ctx.workdir / f"models-nomonitor-{port}"
    shutil.copytree(models, copy)
    for spec in copy.glob("*/model.yaml"):
        spec.write_text(spec.read_text() + "monitor: false\n")
    return copy


def _modelport(
    *flags: str,
    workers: int = 1,
    venv: Path = MODELPORT_VENV,
    models: Callable[[Context, Path, int], Path] | None = None,
) -> Callable[[Context, Path, int], Launch]:
    prepare = models

    def launch(ctx: Context, models: Path, port: int) -> Launch:
        served = models if prepare is None else prepare(ctx, models, port)
        argv = [
            str(venv / "bin" / "modelport"),
            "serve",
            str(served),
            "--host",
            HOST,
            "--port",
            str(port),
            "--grpc-port",
            "0",
            "--workers",
            str(workers),
            *flags,
            *ctx.modelport_args,
        ]
        # The work dir as cwd: a modelport.toml in the checkout must not change the run.
        return Launch(argv, _clean_env(), ctx.workdir)

    return launch


def _mlserver(
    parallel_workers: int | None, batching: tuple[int, float] | None = None
) -> Callable[[Context, Path, int], Launch]:
    """MLServer's sklearn runtime on the same joblib files; only ports and host are set,
    plus ``parallel_workers`` and its adaptive batching (max_batch_size, max_batch_time in
    seconds) when given."""

    def launch(ctx: Context, models: Path, port: int) -> Launch:
        repo = ctx.workdir / f"mlserver-{port}"
        repo.mkdir()
        settings: dict[str, object] = {
            "host": HOST,
            "http_port": port,
            "grpc_port": free_port(),
            "metrics_port": free_port(),
        }
        if parallel_workers is not None:
            settings["parallel_workers"] = parallel_workers
        (repo / "settings.json").write_text(json.dumps(settings, indent=2))
        for artifact in sorted(models.glob("*/1/model.joblib")):
            name = artifact.parent.parent.name
            (repo / name).mkdir()
            model_settings: dict[str, object] = {
                "name": name,
                "implementation": "mlserver_sklearn.SKLearnModel",
                "parameters": {"uri": str(artifact), "version": "1"},
            }
            if batching is not None:
                model_settings["max_batch_size"], model_settings["max_batch_time"] = batching
            (repo / name / "model-settings.json").write_text(json.dumps(model_settings, indent=2))
        argv = [str(VENVS / "mlserver" / "bin" / "mlserver"), "start", str(repo)]
        return Launch(argv, _clean_env(), repo)  # .metrics and .envs land in repo

    return launch


def _flask(ctx: Context, models: Path, port: int) -> Launch:
    argv = [
        str(VENVS / "flask" / "bin" / "gunicorn"),
        "--workers",
        "2",
        "--bind",
        f"{HOST}:{port}",
        "--chdir",
        str(BASELINES),
        "flask_app:app",
    ]
    return Launch(argv, _clean_env(BENCH_MODEL_DIR=str(models)), ctx.workdir)


def _uvicorn(app: str) -> Callable[[Context, Path, int], Launch]:
    def launch(ctx: Context, models: Path, port: int) -> Launch:
        argv = [
            str(VENVS / "asgi" / "bin" / "uvicorn"),
            app,
            "--app-dir",
            str(BASELINES),
            "--host",
            HOST,
            "--port",
            str(port),
            "--no-access-log",
        ]
        return Launch(argv, _clean_env(BENCH_MODEL_DIR=str(models)), ctx.workdir)

    return launch


SERVERS: list[ServerSpec] = [
    ServerSpec("modelport", "modelport", "native", ALL_WORKLOADS, _modelport(), MODELPORT_VENV),
    ServerSpec(
        "modelport-nobatch",
        "modelport, batching off",
        "native",
        ALL_WORKLOADS,
        _modelport("--no-batching"),
        MODELPORT_VENV,
    ),
    # The bodies MLServer gets (one V2 tensor), so that the numbers compare the same
    # request, not only the same rows; single rows too: V2 REST should be as fast as native.
    # What observability costs: the same server with metrics and the access log off (both
    # are on by default), and with only the access log off.
    ServerSpec(
        "modelport-bare",
        "modelport, metrics and access log off",
        "native",
        frozenset({"lr-1"}),
        _modelport("--no-metrics", "--no-access-log"),
        MODELPORT_VENV,
    ),
    ServerSpec(
        "modelport-nolog",
        "modelport, access log off",
        "native",
        frozenset({"lr-1"}),
        _modelport("--no-access-log"),
        MODELPORT_VENV,
    ),
    # Drift monitoring (on by default) works in the background, off the request path.
    ServerSpec(
        "modelport-nomonitor",
        "modelport, monitoring off",
        "native",
        frozenset({"lr-1"}),
        _modelport(models=_without_monitoring),
        MODELPORT_VENV,
    ),
    # A shadow version that fails every call, or sleeps 2 s in it, must change neither
    # the answers nor their latency: compare with the defaults.
    ServerSpec(
        "modelport-shadow-raises",
        "modelport, a shadow that raises",
        "native",
        frozenset({"lr-1"}),
        _modelport("--admin-token", SHADOW_TOKEN, models=_with_bad_shadow("raises")),
        MODELPORT_VENV,
        _shadow_version_2,
    ),
    ServerSpec(
        "modelport-shadow-sleeps",
        "modelport, a shadow that sleeps 2 s",
        "native",
        frozenset({"lr-1"}),
        _modelport("--admin-token", SHADOW_TOKEN, models=_with_bad_shadow("sleeps")),
        MODELPORT_VENV,
        _shadow_version_2,
    ),
    # iris-lr through scikit-learn itself, not modelport's NumPy path for linear models.
    ServerSpec(
        "modelport-sklearn",
        "modelport, linear model through scikit-learn",
        "native",
        frozenset({"lr-1", "lr-1000"}),
        _modelport(models=_without_numpy_linear),
        MODELPORT_VENV,
    ),
    ServerSpec(
        "modelport-v2",
        "modelport, V2 body (as MLServer)",
        "v2",
        frozenset({"lr-1", "lr-1000"}),
        _modelport(),
        MODELPORT_VENV,
    ),
    ServerSpec(
        "mlserver",
        "MLServer, defaults",
        "v2",
        ALL_WORKLOADS,
        _mlserver(None),
        VENVS / "mlserver",
    ),
    ServerSpec(
        "mlserver-pw0",
        "MLServer, parallel_workers 0",
        "v2",
        ALL_WORKLOADS,
        _mlserver(0),
        VENVS / "mlserver",
    ),
    # MLServer's adaptive batching is off by default ("found through experimentation", its
    # docs say): on here with modelport's own batch bound (64 rows) and a 2 ms window.
    ServerSpec(
        "mlserver-batch",
        "MLServer, parallel_workers 0, adaptive batching",
        "v2",
        ALL_WORKLOADS,
        _mlserver(0, (64, 0.002)),
        VENVS / "mlserver",
    ),
    ServerSpec(
        "flask",
        "Flask + gunicorn, 2 sync workers",
        "instances",
        ALL_WORKLOADS,
        _flask,
        VENVS / "flask",
    ),
    ServerSpec(
        "fastapi",
        "FastAPI + uvicorn, pydantic body",
        "instances",
        ALL_WORKLOADS,
        _uvicorn("fastapi_app:app"),
        VENVS / "asgi",
    ),
    # FastAPI's docs advise a plain `def` for blocking work: it runs in the thread pool.
    ServerSpec(
        "fastapi-sync",
        "FastAPI + uvicorn, sync handler",
        "instances",
        ALL_WORKLOADS,
        _uvicorn("fastapi_app:sync_app"),
        VENVS / "asgi",
    ),
    ServerSpec(
        "hello",
        "bare ASGI hello (floor)",
        "hello",
        frozenset({"lr-1"}),
        _uvicorn("hello_app:app"),
        VENVS / "asgi",
    ),
]

#: modelport with every runtime installed (the development venv): the "every example" starts
EVERY_RUNTIME_SPEC = ServerSpec(
    "modelport",
    "modelport, every runtime installed",
    "native",
    ALL_WORKLOADS,
    _modelport(venv=DEV_VENV),
    DEV_VENV,
)

#: modelport with N workers, unpinned: the many-workers comparison
WORKER_SPECS: list[ServerSpec] = [
    ServerSpec(
        f"modelport-w{n}",
        f"modelport --workers {n}",
        "native",
        frozenset({"lr-1"}),
        _modelport(workers=n),
        MODELPORT_VENV,
    )
    for n in (1, 2)
]
