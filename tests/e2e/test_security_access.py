"""Who may call what, tried as an attacker would: a web page in the user's browser, a
DNS-rebinding page, another local user, a client without the API token."""

from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from starlette.routing import Mount

from modelport.api import create_app
from modelport.api.proto import grpc_predict_v2_pb2 as pb
from modelport.api.proto import grpc_predict_v2_pb2_grpc as pb_grpc
from modelport.config import Settings

from .conftest import MODELPORT, Server, StartServer

pytestmark = pytest.mark.e2e

ROWS = {"instances": [[5.1, 3.5, 1.4, 0.2]]}
EVIL = "http://evil.example"
ROUTES_PY = """
def score(request):
    return {"risk": 0.5}


def reload(request, server):
    return {"report": server.reload()}
"""
ROUTES_YAML = """
routes:
  - {path: /health-risk/score, handler: score}
  - {path: /ops/reload, method: POST, handler: reload, admin: true, cors: "*"}
"""


def with_routes(model_dir: Path) -> Path:
    (model_dir / "routes.py").write_text(ROUTES_PY)
    (model_dir / "routes.yaml").write_text(ROUTES_YAML)
    return model_dir


def lan_address() -> str | None:
    """One of this machine's non-loopback IPv4 addresses, if it has any."""
    try:
        out = subprocess.run(["hostname", "-I"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = [a for a in out.stdout.split() if "." in a and not a.startswith("127.")]
    return found[0] if found else None


@pytest.fixture
def default_server(start_server: StartServer, model_dir: Path) -> Server:
    """Started as the README says: no token, no flag."""
    server = start_server([str(with_routes(model_dir)), "--cors-origins", "*"])
    server.wait_ready()
    return server


# -- 1. the default: no address is trusted; the server makes its own token ---------------


def test_a_loopback_client_without_the_token_may_not_manage(default_server: Server) -> None:
    url = default_server.url
    for method, path in (
        ("GET", "/v1/admin/models/iris-lr/versions"),
        ("POST", "/v1/admin/reload"),
        ("POST", "/v1/admin/models/iris-lr/unload"),
        ("POST", "/v2/repository/models/iris-lr/unload"),
        ("GET", "/v1/models/iris-lr/predictions"),
        ("GET", "/v1/admin/stats"),
        ("POST", "/ops/reload"),
    ):
        answer = httpx.request(method, url + path, timeout=30)
        assert answer.status_code == 401, (path, answer.text)
    assert httpx.get(f"{url}/v1/models/iris-lr", timeout=30).json()["state"] == "ready"
    # The owner's token works; the server told where it is.
    log = default_server.log()
    assert "a token generated at start" in log and "admin-token-" in log
    ok = httpx.get(
        f"{url}/v1/admin/models/iris-lr/versions", headers=default_server.admin, timeout=30
    )
    assert ok.status_code == 200, ok.text


def test_the_generated_token_is_the_users_alone_and_the_cli_finds_it(
    default_server: Server, tmp_path: Path, trained_models: Path
) -> None:
    saved = default_server.runtime_dir / "modelport" / f"admin-token-{default_server.port}"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert stat.S_IMODE(saved.parent.stat().st_mode) == 0o700
    env = {
        "PATH": os.environ["PATH"],
        "XDG_RUNTIME_DIR": str(default_server.runtime_dir),
        "MODELPORT_URL": default_server.url,
    }
    printed = subprocess.run(
        [str(MODELPORT), "admin-token"], capture_output=True, text=True, env=env, check=True
    )
    assert printed.stdout.strip() == default_server.admin_token
    table = subprocess.run(
        [str(MODELPORT), "models"], capture_output=True, text=True, env=env, check=True
    )
    assert re.search(r"^iris-lr\s+1\s+1\s+ready\s+-", table.stdout, re.MULTILINE), table.stdout
    # Another user (here: another runtime folder) has no token to find.
    other = subprocess.run(
        [str(MODELPORT), "admin-token"],
        capture_output=True,
        text=True,
        env={**env, "XDG_RUNTIME_DIR": str(tmp_path / "someone-else")},
    )
    assert other.returncode != 0 and "no saved admin token" in other.stderr
    assert default_server.stop() == 0
    assert not saved.exists()  # a stopped server leaves no token behind


def test_no_address_alone_is_trusted_on_a_public_bind(
    start_server: StartServer, model_dir: Path
) -> None:
    address = lan_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address to call from")
    server = start_server([str(model_dir), "--host", "0.0.0.0"])
    server.wait_ready()
    for base in (server.url, f"http://{address}:{server.port}"):
        refused = httpx.post(f"{base}/v1/admin/reload", timeout=30)
        assert refused.status_code == 401, base
        assert httpx.post(f"{base}/v1/models/iris-lr:predict", json=ROWS).status_code == 200


# -- 1. a web page in the user's browser --------------------------------------------------


def test_a_cross_site_page_cannot_upload_unload_or_read_the_log(
    default_server: Server, trained_models: Path, model_dir: Path
) -> None:
    """What a page on evil.example can make the browser send without a preflight: a form
    post (multipart or urlencoded), a text/plain fetch, a GET — even with a stolen token."""
    url = default_server.url
    pickle = (trained_models / "iris-dt" / "1" / "model.joblib").read_bytes()
    browser = {"Origin": EVIL, "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"}
    attempts: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/v1/admin/models/iris-lr/versions", {"files": {"file": ("m.joblib", pickle)}}),
        ("POST", "/v1/admin/models/iris-lr/unload", {"content": b"x", "type": "text/plain"}),
        ("POST", "/v2/repository/models/iris-lr/unload", {"content": b"{}", "type": "text/plain"}),
        ("POST", "/v1/admin/reload", {"data": {"a": "b"}}),
        ("GET", "/v1/models/iris-lr/predictions", {}),
        ("POST", "/ops/reload", {"content": b"", "type": "text/plain"}),
    ]
    for method, path, body in attempts:
        for headers in (browser, {**browser, **default_server.admin}):
            kwargs = {k: v for k, v in body.items() if k != "type"}
            extra = {"Content-Type": str(body["type"])} if "type" in body else {}
            answer = httpx.request(
                method, url + path, headers={**headers, **extra}, timeout=30, **kwargs
            )
            assert answer.status_code in (401, 403), (path, headers, answer.text)
            assert "access-control-allow-origin" not in answer.headers
    # Only Sec-Fetch-Site (no Origin, as on a top-level GET navigation), or only Origin.
    for headers in (
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "http://localhost:3000"},
        {"Origin": "null"},
    ):
        answer = httpx.get(
            f"{url}/v1/models/iris-lr/predictions",
            headers={**headers, **default_server.admin},
            timeout=30,
        )
        assert answer.status_code == 403, (headers, answer.text)
    assert not (model_dir / "iris-lr" / "2").exists()
    assert httpx.get(f"{url}/v1/models/iris-lr", timeout=30).json()["state"] == "ready"


def test_the_servers_own_page_may_manage(default_server: Server) -> None:
    """A same-origin page (the server's own UI) and command-line clients are let in."""
    own = {
        "Origin": default_server.url,
        "Sec-Fetch-Site": "same-origin",
        **default_server.admin,
    }
    answer = httpx.post(f"{default_server.url}/v1/admin/reload", headers=own, json={}, timeout=30)
    assert answer.status_code == 200, answer.text
    typed = httpx.get(
        f"{default_server.url}/v1/admin/models/iris-lr/versions",
        headers={"Sec-Fetch-Site": "none", **default_server.admin},
        timeout=30,
    )
    assert typed.status_code == 200, typed.text


def test_management_paths_never_answer_cors_even_with_star(default_server: Server) -> None:
    url = default_server.url
    for path in (
        "/v1/admin/reload",
        "/v1/admin/models/iris-lr/versions",
        "/v1/models/iris-lr/predictions",
        "/v2/repository/models/iris-lr/load",
        "/ops/reload",
    ):
        preflight = httpx.options(
            url + path,
            headers={
                "Origin": EVIL,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization",
            },
            timeout=30,
        )
        assert "access-control-allow-origin" not in preflight.headers, path
        assert preflight.status_code >= 400, path
    # Predictions do get CORS: cors_origins '*' was asked for.
    preflight = httpx.options(
        f"{url}/v1/models/iris-lr:predict",
        headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"},
        timeout=30,
    )
    assert preflight.headers["access-control-allow-origin"] == "*"


def test_dns_rebinding_hosts_are_refused(default_server: Server) -> None:
    """A page on evil.example whose name now resolves to 127.0.0.1 is same-origin to the
    browser; only the Host header tells the server."""
    url = default_server.url
    port = default_server.port
    for host in (f"evil.example:{port}", "evil.example", f"127.0.0.1.nip.io:{port}", ""):
        for method, path in (
            ("GET", "/v1/admin/models/iris-lr/versions"),
            ("POST", "/v1/models/iris-lr:predict"),
            ("POST", "/v2/models/iris-lr/infer"),
            ("GET", "/v1/models"),
            ("GET", "/health-risk/score"),
        ):
            answer = httpx.request(
                method,
                url + path,
                headers={"Host": host, **default_server.admin},
                json=ROWS,
                timeout=30,
            )
            assert answer.status_code == 400, (host, path, answer.text)
            assert "allowed_hosts" in answer.text
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"LOCALHOST:{port}"):
        answer = httpx.post(
            f"{url}/v1/models/iris-lr:predict", headers={"Host": host}, json=ROWS, timeout=30
        )
        assert answer.status_code == 200, (host, answer.text)
    # Health probes answer whatever the Host (an orchestrator names the pod's address).
    assert httpx.get(f"{url}/health/live", headers={"Host": "10.1.2.3"}).status_code == 200


def test_allowed_hosts_adds_names(start_server: StartServer, model_dir: Path) -> None:
    server = start_server([str(model_dir), "--allowed-hosts", "models.internal, 10.0.0.7"])
    server.wait_ready()
    for host, status in (("models.internal", 200), ("10.0.0.7:8000", 200), ("evil", 400)):
        answer = httpx.post(
            f"{server.url}/v1/models/iris-lr:predict", headers={"Host": host}, json=ROWS
        )
        assert answer.status_code == status, host


# -- 3. database tokens: revoking the last one closes nothing ------------------------------


def test_revoking_the_last_database_token_leaves_management_locked(
    default_server: Server, tmp_path: Path
) -> None:
    url = default_server.url
    made = subprocess.run(
        [str(MODELPORT), "tokens", "create", "ci-bot"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    token = made.stdout.strip()
    path = f"{url}/v1/admin/models/iris-lr/versions"
    assert httpx.get(path, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    revoked = subprocess.run(
        [str(MODELPORT), "tokens", "revoke", "ci-bot"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "no database token is left" in revoked.stderr
    assert httpx.get(path, headers={"Authorization": f"Bearer {token}"}).status_code == 403
    assert httpx.get(path).status_code == 401  # not open again
    assert httpx.get(path, headers=default_server.admin).status_code == 200


# -- 5 and 7. exact paths ------------------------------------------------------------------


def test_the_api_token_guards_look_alike_paths(start_server: StartServer, model_dir: Path) -> None:
    server = start_server([str(with_routes(model_dir))], env={"MODELPORT_API_TOKEN": "api-secret"})
    server.wait_ready()
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for path in (
            "/health-risk/score",
            "/healthz",
            "/docs-private",
            "/openapi.json.bak",
            "/static",
        ):
            answer = http.get(path)
            assert answer.status_code == 401, (path, answer.text)
        # Not a prediction log path: it must not list the models to a stranger.
        for path in (
            "/v1/models/iris-lr/versions/1/predictions",
            "/v1/models/x/y/z/predictions",
            "/v1/models/nope/predictions/extra/more",
        ):
            answer = http.get(path)
            assert answer.status_code == 401, (path, answer.text)
            assert "iris" not in answer.text
        assert http.get("/health/ready").status_code == 200
        assert http.get("/docs").status_code == 200
        good = {"Authorization": "Bearer api-secret"}
        assert http.get("/health-risk/score", headers=good).json() == {"risk": 0.5}
    with grpc.insecure_channel(server.grpc_target) as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)  # type: ignore[no-untyped-call]
        with pytest.raises(grpc.RpcError) as caught:
            stub.RepositoryIndex(pb.RepositoryIndexRequest(), timeout=10)
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        index = stub.RepositoryIndex(
            pb.RepositoryIndexRequest(), metadata=(("authorization", "Bearer api-secret"),)
        )
        assert [m.name for m in index.models] == ["iris-dt", "iris-lr"]


# -- every route and every gRPC method has a decision --------------------------------------

#: What each endpoint needs. A new endpoint fails the test below until it is added here.
EXPECTED_REST: dict[tuple[str, str], str] = {
    ("GET", "/health/live"): "open",
    ("GET", "/health/ready"): "open",
    ("GET", "/v2/health/live"): "open",
    ("GET", "/v2/health/ready"): "open",
    ("GET", "/docs"): "open",
    ("GET", "/openapi.json"): "open",
    ("GET", "/static/swagger-ui"): "open",
    # The browser UI's page and files (its data comes from the API routes below).
    ("GET", "/ui"): "open",
    # Leads to /ui; an API path, since a custom route may take it over.
    ("GET", "/"): "api",
    ("GET", "/static/ui"): "open",
    ("GET", "/v1/models"): "api",
    # Prometheus metrics: model names and traffic, guarded like predictions
    ("GET", "/metrics"): "api",
    ("GET", "/v1/models/{name}"): "api",
    ("GET", "/v1/models/{name}/versions/{version}"): "api",
    ("GET", "/v1/models/{name}/live"): "api",
    ("GET", "/v1/models/{name}/monitor"): "api",
    ("POST", "/v1/models/{name}:predict"): "api",
    ("POST", "/v1/models/{name}/versions/{version}:predict"): "api",
    ("GET", "/ping"): "api",
    ("GET", "/version"): "api",
    ("POST", "/invocations"): "api",
    ("POST", "/v1/models/{name}/invocations"): "api",
    ("GET", "/v2"): "api",
    ("GET", "/v2/models/{name}"): "api",
    ("GET", "/v2/models/{name}/versions/{version}"): "api",
    ("GET", "/v2/models/{name}/ready"): "api",
    ("GET", "/v2/models/{name}/versions/{version}/ready"): "api",
    ("POST", "/v2/models/{name}/infer"): "api",
    ("POST", "/v2/models/{name}/versions/{version}/infer"): "api",
    ("POST", "/v2/repository/index"): "api",
    ("POST", "/v2/repository/models/{name}/load"): "admin",
    ("POST", "/v2/repository/models/{name}/unload"): "admin",
    ("GET", "/v1/models/{name}/predictions"): "admin",
    ("GET", "/v1/admin/stats"): "admin",
    ("GET", "/v1/admin/audit"): "admin",
    ("GET", "/v1/admin/status"): "admin",
    ("POST", "/v1/admin/models/{name:path}/versions"): "admin",
    ("GET", "/v1/admin/models/{name}/versions"): "admin",
    ("DELETE", "/v1/admin/models/{name}/versions/{version}"): "admin",
    ("PUT", "/v1/admin/models/{name}/aliases/{alias}"): "admin",
    ("DELETE", "/v1/admin/models/{name}/aliases/{alias}"): "admin",
    ("PUT", "/v1/admin/models/{name}/traffic"): "admin",
    ("PUT", "/v1/admin/models/{name}/shadow"): "admin",
    ("GET", "/v1/admin/models/{name}/compare"): "admin",
    ("POST", "/v1/admin/reload"): "admin",
    ("POST", "/v1/admin/models/{name}/reload"): "admin",
    ("POST", "/v1/admin/models/{name}/load"): "admin",
    ("POST", "/v1/admin/models/{name}/unload"): "admin",
    # custom routes: API unless declared admin: true
    ("GET", "/health-risk/score"): "api",
    ("POST", "/ops/reload"): "admin",
}
EXPECTED_GRPC = {
    "ServerLive": "open",
    "ServerReady": "open",
    "ModelReady": "api",
    "ServerMetadata": "api",
    "ModelMetadata": "api",
    "ModelInfer": "api",
    "RepositoryIndex": "api",
    "RepositoryModelLoad": "admin",
    "RepositoryModelUnload": "admin",
}
_SAMPLES = {"name": "iris-lr", "name:path": "iris-lr", "version": "1", "alias": "production"}


def _routes(model_dir: Path, tmp_path: Path) -> list[tuple[str, str, str]]:
    """(method, template, a path to call) of every endpoint the app serves."""
    app = create_app(Settings(model_dir=model_dir, data_dir=tmp_path, grpc_port=0))
    found = []
    routes: list[Any] = []
    for route in app.routes:
        # FastAPI keeps an included router as one entry; its routes carry full paths.
        included = getattr(route, "original_router", None)
        routes.extend(included.routes if included is not None else [route])
    for route in routes:
        if isinstance(route, Mount):
            # A file each mount serves: Swagger UI's stylesheet, the browser UI's.
            name = "swagger-ui.css" if "swagger" in route.path else "ui.css"
            found.append(("GET", route.path, f"{route.path}/{name}"))
            continue
        template: str = route.path
        sample = re.sub(r"\{([\w:]+)\}", lambda m: _SAMPLES.get(m.group(1), "x"), template)
        for method in sorted(route.methods - {"HEAD"}):
            found.append((method, template, sample))
    return found


def test_every_rest_route_and_grpc_method_has_its_decision(
    start_server: StartServer, model_dir: Path, tmp_path: Path
) -> None:
    routes = _routes(with_routes(model_dir), tmp_path)
    assert {(m, t) for m, t, _ in routes} == set(EXPECTED_REST), "decide each new route here"
    server = start_server(
        [str(model_dir)], env={"MODELPORT_API_TOKEN": "api-t", "MODELPORT_ADMIN_TOKEN": "adm-t"}
    )
    server.wait_ready()
    api, admin = {"Authorization": "Bearer api-t"}, {"Authorization": "Bearer adm-t"}
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for method, template, path in routes:
            need = EXPECTED_REST[(method, template)]
            bare = http.request(method, path, json={})
            with_api = http.request(method, path, json={}, headers=api)
            where = f"{method} {template}: {bare.status_code} / {with_api.status_code}"
            if need == "open":
                assert bare.status_code < 400, where
            elif need == "api":
                assert bare.status_code == 401, where
                assert with_api.status_code not in (401, 403), where
            else:
                assert bare.status_code == 401, where
                assert with_api.status_code == 403, where  # the API token is not admin
                if method == "GET":
                    assert http.get(path, headers=admin).status_code == 200, where
    service = pb.DESCRIPTOR.services_by_name["GRPCInferenceService"]
    assert {m.name for m in service.methods} == set(EXPECTED_GRPC), "decide each new method"
    with grpc.insecure_channel(server.grpc_target) as channel:
        for method in service.methods:
            call = channel.unary_unary(
                f"/{service.full_name}/{method.name}",
                request_serializer=lambda m: m.SerializeToString(),
                response_deserializer=lambda b: b,
            )
            request = getattr(pb, method.input_type.name)()
            for field in ("name", "model_name"):
                if field in request.DESCRIPTOR.fields_by_name:
                    setattr(request, field, "iris-lr")
            need = EXPECTED_GRPC[method.name]
            code = _grpc_code(call, request, ())
            with_api = _grpc_code(call, request, (("authorization", "Bearer api-t"),))
            where = f"{method.name}: {code} / {with_api}"
            if need == "open":
                assert code == grpc.StatusCode.OK, where
            elif need == "api":
                assert code == grpc.StatusCode.UNAUTHENTICATED, where
                assert with_api not in _REFUSED, where
            else:
                assert code == grpc.StatusCode.UNAUTHENTICATED, where
                assert with_api == grpc.StatusCode.PERMISSION_DENIED, where


_REFUSED = (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED)


def _grpc_code(
    call: grpc.UnaryUnaryMultiCallable, request: object, metadata: tuple[tuple[str, str], ...]
) -> grpc.StatusCode:
    try:
        call(request, metadata=metadata, timeout=10)
    except grpc.RpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


def test_the_docs_say_which_operations_need_the_token(default_server: Server) -> None:
    """So the docs page's Authorize button sends the token where it is needed."""
    document = httpx.get(f"{default_server.url}/openapi.json", timeout=30).json()
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    paths = document["paths"]
    for path, method in (
        ("/v1/admin/reload", "post"),
        ("/v1/models/{name}/predictions", "get"),
        ("/v2/repository/models/{name}/unload", "post"),
        ("/ops/reload", "post"),
    ):
        assert paths[path][method]["security"] == [{"bearer": []}], path
    assert "security" not in paths["/v1/models/{name}:predict"]["post"]  # no api_token set
