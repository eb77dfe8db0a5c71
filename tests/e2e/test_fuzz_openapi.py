"""Schemathesis over the server's own ``/openapi.json``: every operation, with valid and
invalid requests built from its schema, sent with the admin token (which also opens every
API path) to a real server. No answer is a 5xx, none takes longer than its timeout, and
the server's memory stays bounded."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
import requests
import schemathesis
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from hypothesis.strategies import SearchStrategy
from schemathesis import GenerationMode
from schemathesis.core.result import Ok

from e2e.conftest import Server
from fuzzing import Budget, budget
from modelport.api.proto import grpc_predict_v2_pb2 as pb
from protocols.test_fuzz_decoders import grpc_infer_requests

pytestmark = pytest.mark.e2e

__all__ = ["budget"]  # the fixture, imported for pytest to find

API, ADMIN = "fuzz-api-token", "fuzz-admin-token"
#: Custom routes that read every part of a request, and one that predicts with its body.
ROUTES_PY = """
def echo(request):
    return {
        "json": request.json,
        "query": dict(request.query),
        "form": dict(request.form),
        "files": sorted(request.files),
        "path": dict(request.path_params),
    }


def score(request, server):
    return {"predictions": server.predict("iris-lr", request.json).predictions}
"""
ROUTES_YAML = """
routes:
  - {path: "/fuzz/echo/{word}", method: POST, handler: echo}
  - {path: /fuzz/score, method: POST, handler: score}
"""
#: Longer than any answer of a model that does not hang: past it, the server hung.
TIMEOUT_S = 10
#: The server's resident memory after the run: the models and libraries take ~300 MB.
MAX_RSS_MB = 1024


def _start(trained_models: Path, root: Path) -> Iterator[Server]:
    models = root / "models"
    # A copy: the fuzzer deletes versions and uploads new ones.
    shutil.copytree(trained_models, models)
    (models / "routes.py").write_text(ROUTES_PY)
    (models / "routes.yaml").write_text(ROUTES_YAML)
    started = Server(
        [str(models), "--request-timeout", "5"],
        cwd=root,
        env={"MODELPORT_API_TOKEN": API, "MODELPORT_ADMIN_TOKEN": ADMIN},
    )
    try:
        started.wait_ready()
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def server(trained_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server for the requests below."""
    yield from _start(trained_models, tmp_path_factory.mktemp("fuzz-regressions"))


@pytest.fixture
def fuzzed(trained_models: Path, tmp_path: Path) -> Iterator[Server]:
    """A server of its own for each fuzz run: the fuzzer unloads models, moves aliases."""
    yield from _start(trained_models, tmp_path)


def _rss_mb(pid: int) -> float:
    total = 0.0
    pids = [pid, *Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    for each in pids:
        for line in Path(f"/proc/{each}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) / 1024
    return total


#: gRPC codes that say the server failed, or did not answer in time.
SERVER_FAULTS = {
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.DATA_LOSS,
}
#: Path parameters naming what the server serves, so that requests reach past the lookup
#: of the model (the free pass names models that mostly do not exist).
SERVED = {"name": "iris-lr", "name:path": "iris-lr", "version": "1"}
#: Kept out of the pass on the served model: deleting its only version leaves nothing
#: for the other operations to work on.
DESTRUCTIVE = {("DELETE", "/v1/admin/models/{name}/versions/{version}")}


def test_no_operation_answers_5xx_or_hangs(fuzzed: Server, budget: Budget) -> None:
    server = fuzzed
    headers = {"Authorization": f"Bearer {ADMIN}"}
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json", headers=headers)
    operations = [found.ok() for found in schema.get_all_operations() if isinstance(found, Ok)]
    assert len(operations) > 30, "the document lists every route"
    session = requests.Session()
    failures: list[str] = []
    for operation in operations:
        served = {p.name: SERVED[p.name] for p in operation.path_parameters if p.name in SERVED}
        passes: list[dict[str, str] | None] = [None]
        if served and (operation.method.upper(), operation.path) not in DESTRUCTIVE:
            passes.append(served)
        for path_parameters in passes:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                strategy = operation.as_strategy(
                    generation_mode=mode, path_parameters=path_parameters
                )
                failures += _fuzz(server.url, session, headers, strategy, budget)
    assert not failures, "\n\n".join(failures)
    # The other RPCs here, where loading and unloading may change what is served.
    for method, messages in _RPCS.items():
        _fuzz_grpc(server, method, messages, budget.settings(15, deadline_ms=None))
    assert _rss_mb(server.process.pid) < MAX_RSS_MB


def _fuzz(
    url: str,
    session: requests.Session,
    headers: dict[str, str],
    strategy: SearchStrategy[schemathesis.Case[Any]],
    budget: Budget,
) -> list[str]:
    """Send the strategy's requests: what answered 5xx (hypothesis's smallest example)."""

    @budget.settings(4, deadline_ms=None)
    @given(case=strategy)
    def call(case: schemathesis.Case[Any]) -> None:
        response = case.call(base_url=url, session=session, headers=headers, timeout=TIMEOUT_S)
        assert response.status_code < 500, (
            f"{case.method} {case.formatted_path}: {response.status_code} "
            f"{response.text[:300]}\n{case.as_curl_command(headers=headers)}"
        )

    try:
        call()
    except AssertionError as exc:  # every operation's finding, not only the first
        return [str(exc)]
    except Unsatisfiable:  # nothing to make invalid: no parameters, no body
        pass
    return []


def test_no_grpc_infer_request_answers_internal_or_hangs(server: Server, budget: Budget) -> None:
    _fuzz_grpc(server, "ModelInfer", grpc_infer_requests(), budget.settings(60, deadline_ms=None))


_NAMES = st.sampled_from(["iris-lr", "iris-dt", "", "nope"]) | st.text(max_size=12)
_VERSIONS = st.sampled_from(["", "1", "2", "latest", "0", "-1", "99999999999999999999"])
_PARAMETER = st.one_of(
    st.builds(pb.ModelRepositoryParameter, bool_param=st.booleans()),
    st.builds(pb.ModelRepositoryParameter, int64_param=st.integers(-(2**63), 2**63 - 1)),
    st.builds(pb.ModelRepositoryParameter, string_param=st.text(max_size=20)),
    st.builds(pb.ModelRepositoryParameter, bytes_param=st.binary(max_size=20)),
)
_PARAMETERS = st.dictionaries(
    st.sampled_from(["config", "file:model.joblib", "file:1/model.joblib", "x"]), _PARAMETER
)
#: Every other RPC, with its requests: names and versions served or not, any parameters.
_RPCS: dict[str, st.SearchStrategy[Any]] = {
    "ServerMetadata": st.just(pb.ServerMetadataRequest()),
    "ModelMetadata": st.builds(pb.ModelMetadataRequest, name=_NAMES, version=_VERSIONS),
    "ModelReady": st.builds(pb.ModelReadyRequest, name=_NAMES, version=_VERSIONS),
    "RepositoryIndex": st.builds(
        pb.RepositoryIndexRequest, repository_name=_NAMES, ready=st.booleans()
    ),
    "RepositoryModelLoad": st.builds(
        pb.RepositoryModelLoadRequest,
        repository_name=_NAMES,
        model_name=_NAMES,
        parameters=_PARAMETERS,
    ),
    "RepositoryModelUnload": st.builds(
        pb.RepositoryModelUnloadRequest,
        repository_name=_NAMES,
        model_name=_NAMES,
        parameters=_PARAMETERS,
    ),
}


def _fuzz_grpc(
    server: Server, method: str, requests_: st.SearchStrategy[Any], budget: settings
) -> None:
    """Send the strategy's messages to ``method``: none answers a server fault."""
    bearer = (("authorization", f"Bearer {ADMIN}"),)
    with grpc.insecure_channel(server.grpc_target) as channel:
        rpc = channel.unary_unary(
            f"/inference.GRPCInferenceService/{method}",
            request_serializer=lambda message: message.SerializeToString(),
            response_deserializer=lambda raw: raw,
        )

        @budget
        @given(request=requests_)
        def call(request: Any) -> None:
            try:
                rpc(request, metadata=bearer, timeout=TIMEOUT_S)
            except grpc.RpcError as exc:
                code = exc.code()
                assert code not in SERVER_FAULTS, f"{method} {code}: {exc.details()}\n{request}"

        call()


# -- what the fuzzers found, each as the request that once got a 500 -----------------


@pytest.mark.parametrize(
    "body",
    [
        b'{"dataframe_records": 5}',
        b'{"dataframe_records": null}',
        b'{"dataframe_split": {"columns": ["sepal_length", "sepal_width", "petal_length", '
        b'"petal_width"], "data": 5}}',
    ],
)
def test_a_frame_envelope_holding_no_list_is_a_client_error(server: Server, body: bytes) -> None:
    for path in ("/v1/models/iris-lr:predict", "/v1/models/iris-lr/invocations"):
        answer = requests.post(
            f"{server.url}{path}",
            data=body,
            headers={"Authorization": f"Bearer {API}", "Content-Type": "application/json"},
            timeout=TIMEOUT_S,
        )
        assert answer.status_code in (400, 422), (path, answer.status_code, answer.text)
        assert "must be a list" in answer.json()["message"]


def test_a_csv_cell_with_a_bare_carriage_return_is_a_client_error(server: Server) -> None:
    answer = requests.post(
        f"{server.url}/v1/models/iris-lr/invocations",
        data=b"sepal_length\rx,b\n1,2\n",
        headers={"Authorization": f"Bearer {API}", "Content-Type": "text/csv"},
        timeout=TIMEOUT_S,
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["message"].startswith("the CSV body is not valid CSV")


def test_loading_a_model_whose_last_version_was_deleted_is_not_found(server: Server) -> None:
    admin = {"Authorization": f"Bearer {ADMIN}"}
    with httpx.Client(base_url=server.url, headers=admin, timeout=TIMEOUT_S) as http:
        assert http.delete("/v1/admin/models/iris-dt/versions/1").status_code == 200
        for path in ("/v1/admin/models/iris-dt/load", "/v2/repository/models/iris-dt/load"):
            answer = http.post(path)
            assert answer.status_code == 404, (path, answer.text)
            error = answer.json()  # V2's shape: the message under "error"
            assert "has nothing to load: no version folders" in error.get("message", error["error"])
        assert http.post(
            "/v1/models/iris-lr:predict", json={"instances": [[1, 2, 3, 4]]}
        ).is_success
