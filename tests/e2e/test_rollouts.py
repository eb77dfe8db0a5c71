"""Which version answers by default: an upload with ``--alias staging`` does not go live
while the model's policy is ``default: production``."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from databases import empty_database

from .conftest import MODELPORT, Server, StartServer

pytestmark = pytest.mark.e2e

ROWS = {"instances": [[5.1, 3.5, 1.4, 0.2]]}
V2_INPUT = {"name": "input-0", "datatype": "FP64", "shape": [1, 4], "data": [5.1, 3.5, 1.4, 0.2]}
#: Versions of the model "planted": 1 answers "a"; 2 disagrees on a fifth of the inputs
#: (x below 0.2); 3 raises and 4 sleeps past the 1 s timeout for any x above 0.
PLANTED = [
    "def predict(x: float) -> str:\n    return 'a'\n",
    "def predict(x: float) -> str:\n    return 'b' if x < 0.2 else 'a'\n",
    "def predict(x: float) -> str:\n    if x > 0:\n        raise RuntimeError('a bug')\n"
    "    return 'a'\n",
    "import time\n\n\ndef predict(x: float) -> str:\n    if x > 0:\n        time.sleep(1.5)\n"
    "    return 'a'\n",
]
#: The bound for every worker to follow a change, as for alias moves.
WITHIN_S = 2.0


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)],
)
def server(
    request: pytest.FixtureRequest, trained_models: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """iris-lr answers with its alias production (model.yaml); iris-dt keeps the newest."""
    root = tmp_path_factory.mktemp("rollout-default")
    shutil.copytree(trained_models, root / "models")
    yaml = root / "models" / "iris-lr" / "model.yaml"
    yaml.write_text(yaml.read_text() + "default: production\n")
    for number, body in enumerate(PLANTED, start=1):
        (root / "models" / "planted" / str(number)).mkdir(parents=True)
        (root / "models" / "planted" / str(number) / "model.py").write_text(body)
    for url in empty_database(request.param, tmp_path_factory):
        args = [str(root / "models"), "--database-url", url, "--allow-pickle-uploads"]
        started = Server(
            [*args, "--request-timeout", "1", "--route-key-parameter", "customer_id"], root
        )
        try:
            started.wait_ready()
            yield started
        finally:
            started.stop()


def once(server: Server) -> None:
    """Tests whose outcome no database changes run on SQLite alone (the suite's time)."""
    if "sqlite" not in server.args[server.args.index("--database-url") + 1]:
        pytest.skip("the same on every database: run on SQLite")


def predict(server: Server, name: str, version: str | None = None) -> httpx.Response:
    path = name if version is None else f"{name}/versions/{version}"
    return httpx.post(f"{server.url}/v1/models/{path}:predict", json=ROWS, timeout=30)


def cli(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MODELPORT), *args, "--url", server.url, "--token", server.admin_token],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_an_upload_to_staging_does_not_answer_while_production_is_the_default(
    server: Server, trained_models: Path
) -> None:
    # No production alias yet: a clear 503, never the newest version in its place.
    refused = predict(server, "iris-lr")
    assert refused.status_code == 503, refused.text
    assert "alias 'production'" in refused.json()["message"]
    assert "modelport alias set iris-lr production" in refused.json()["message"]

    moved = httpx.put(
        f"{server.url}/v1/admin/models/iris-lr/aliases/production",
        json={"version": 1},
        headers=server.admin,
        timeout=30,
    )
    assert moved.status_code == 200, moved.text
    assert predict(server, "iris-lr").json()["model_version"] == 1

    artifact = trained_models / "iris-dt" / "1" / "model.joblib"
    uploaded = cli(server, "upload", str(artifact), "--model", "iris-lr", "--alias", "staging")
    assert uploaded.returncode == 0, uploaded.stderr
    assert "staging -> 2" in uploaded.stdout

    assert predict(server, "iris-lr").json()["model_version"] == 1
    assert predict(server, "iris-lr", "staging").json()["model_version"] == 2
    assert predict(server, "iris-lr", "latest").json()["model_version"] == 2
    meta = httpx.get(f"{server.url}/v1/models/iris-lr", timeout=30).json()
    assert meta["latest_version"] == 2
    assert meta["default"] == {
        "policy": "production",
        "source": "model.yaml",
        "version": 1,
        "traffic": [],
        "shadow": None,
    }

    # Promotion is the alias move, and only that.
    httpx.put(
        f"{server.url}/v1/admin/models/iris-lr/aliases/production",
        json={"version": 2},
        headers=server.admin,
        timeout=30,
    ).raise_for_status()
    assert predict(server, "iris-lr").json()["model_version"] == 2
    meta = httpx.get(f"{server.url}/v1/models/iris-lr", timeout=30).json()
    assert meta["default"]["version"] == 2


def test_a_model_without_a_policy_keeps_answering_with_its_newest_version(
    server: Server, trained_models: Path
) -> None:
    once(server)
    artifact = trained_models / "iris-lr" / "1" / "model.joblib"
    uploaded = cli(server, "upload", str(artifact), "--model", "iris-dt", "--alias", "staging")
    assert uploaded.returncode == 0, uploaded.stderr
    assert predict(server, "iris-dt").json()["model_version"] == 2
    meta = httpx.get(f"{server.url}/v1/models/iris-dt", timeout=30).json()
    assert meta["default"]["policy"] == "latest"
    assert (meta["default"]["source"], meta["default"]["version"]) == ("server", 2)


def test_a_bad_policy_in_model_yaml_is_named(server: Server, tmp_path: Path) -> None:
    folder = Path(server.args[0]) / "iris-bad"
    shutil.copytree(Path(server.args[0]) / "iris-lr" / "1", folder / "1")
    (folder / "model.yaml").write_text("default: Production!\n")
    loaded = httpx.post(
        f"{server.url}/v1/admin/models/iris-bad/load", headers=server.admin, timeout=60
    )
    assert loaded.status_code in (422, 500), loaded.text
    assert "default" in loaded.json()["message"]
    assert "'latest', a version number or an alias" in loaded.json()["message"]


def two_versions(server: Server, trained_models: Path) -> None:
    """iris-lr with versions 1 and 2 (uploaded here unless an earlier test did), production
    on 1 and candidate on 2."""
    history = httpx.get(
        f"{server.url}/v1/admin/models/iris-lr/versions", headers=server.admin, timeout=30
    ).json()
    if len(history["versions"]) < 2:
        artifact = trained_models / "iris-dt" / "1" / "model.joblib"
        assert cli(server, "upload", str(artifact), "--model", "iris-lr").returncode == 0
    for alias, version in (("production", 1), ("candidate", 2)):
        httpx.put(
            f"{server.url}/v1/admin/models/iris-lr/aliases/{alias}",
            json={"version": version},
            headers=server.admin,
            timeout=30,
        ).raise_for_status()


def test_a_90_10_split_sends_about_a_tenth_to_the_candidate_and_a_key_sticks(
    server: Server, trained_models: Path
) -> None:
    two_versions(server, trained_models)
    split = cli(server, "traffic", "iris-lr", "production=90", "candidate=10")
    assert split.returncode == 0, split.stderr
    assert split.stdout.strip() == (
        "iris-lr: traffic production (version 1) 90%, candidate (version 2) 10%"
    )
    meta = httpx.get(f"{server.url}/v1/models/iris-lr", timeout=30).json()
    assert meta["default"]["traffic"] == [
        {"target": "production", "percent": 90, "version": 1},
        {"target": "candidate", "percent": 10, "version": 2},
    ]
    if "sqlite" in server.args[server.args.index("--database-url") + 1]:
        # The split is the server's own arithmetic: counted once, not per database (once).
        counts = {1: 0, 2: 0}
        with httpx.Client(base_url=server.url, timeout=30) as http:
            for _ in range(2000):
                counts[
                    http.post("/v1/models/iris-lr:predict", json=ROWS).json()["model_version"]
                ] += 1
        assert 1700 <= counts[1] <= 1900 and 100 <= counts[2] <= 300, counts
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for key in ("alice", "bob", "carol", "dave", "erin"):
            sticky = {"X-Modelport-Route-Key": key}
            by_customer: dict[str, object] = {**ROWS, "parameters": {"customer_id": key}}
            # The header, the configured parameter, and the header over V2 REST.
            tries: list[tuple[str, object, dict[str, str]]] = [
                ("/v1/models/iris-lr:predict", ROWS, sticky),
                ("/v1/models/iris-lr:predict", by_customer, {}),
                ("/v2/models/iris-lr/infer", {"inputs": [V2_INPUT]}, sticky),
            ]
            for path, body, headers in tries:
                seen = {
                    http.post(path, json=body, headers=headers).json()["model_version"]
                    for _ in range(15)
                }
                assert len(seen) == 1, (key, path, body, seen)
        # A version named in the request is that version, whatever the split.
        assert (
            http.post("/v1/models/iris-lr/versions/2:predict", json=ROWS).json()["model_version"]
            == 2
        )

    audit = httpx.get(
        f"{server.url}/v1/admin/audit", params={"model": "iris-lr"}, headers=server.admin
    ).json()["entries"][0]
    assert (audit["action"], audit["detail"]["traffic"]) == (
        "traffic.set",
        {"production": 90, "candidate": 10},
    )
    ended = cli(server, "traffic", "iris-lr", "off", "--json")
    assert ended.returncode == 0, ended.stderr
    assert json.loads(ended.stdout)["traffic"] == []


@pytest.mark.parametrize(
    ("shares", "message", "code"),
    [
        (["production=90", "candidate=20"], "must sum to 100, not 110", 1),
        (["nope=100"], "has no version 'nope'", 1),
        (["production:90"], "ALIAS=PERCENT", 2),
    ],
)
def test_a_bad_split_is_refused_and_changes_nothing(
    server: Server, trained_models: Path, shares: list[str], message: str, code: int
) -> None:
    once(server)
    two_versions(server, trained_models)
    refused = cli(server, "traffic", "iris-lr", *shares)
    assert refused.returncode == code
    assert message in refused.stderr
    meta = httpx.get(f"{server.url}/v1/models/iris-lr", timeout=30).json()
    assert meta["default"]["traffic"] == []


def test_a_wrong_token_is_an_error(server: Server) -> None:
    once(server)
    wrong = subprocess.run(
        [str(MODELPORT), "shadow", "iris-lr", "off", "--url", server.url, "--token", "wrong"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert wrong.returncode == 1
    assert "403" in wrong.stderr


def test_the_cli_says_when_it_cannot_connect() -> None:
    unreachable = subprocess.run(
        [str(MODELPORT), "traffic", "iris-lr", "off", "--url", "http://127.0.0.1:9"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert unreachable.returncode == 3, unreachable.stderr
    assert "cannot reach http://127.0.0.1:9" in unreachable.stderr


@pytest.mark.slow  # how soon every worker follows (real time)
def test_every_worker_follows_a_split_and_a_shadow_within_2_s(
    start_server: StartServer, model_dir: Path, trained_models: Path
) -> None:
    shutil.copytree(trained_models / "iris-dt" / "1", model_dir / "iris-lr" / "2")
    server = start_server([str(model_dir), "--workers", "4"])
    server.wait_ready()

    assert cli(server, "traffic", "iris-lr", "1=100", "2=0").returncode == 0
    lag = converged_after(server.url, lambda: predict(server, "iris-lr").json()["model_version"], 1)
    assert lag <= WITHIN_S, f"a worker ignored the split for {lag:.2f} s"

    assert cli(server, "shadow", "iris-lr", "2").returncode == 0

    def shadow() -> object:
        meta = httpx.get(f"{server.url}/v1/models/iris-lr", timeout=30).json()
        return meta["default"]["shadow"]

    lag = converged_after(server.url, shadow, {"target": "2", "version": 2, "sample_rate": 1.0})
    assert lag <= WITHIN_S, f"a worker did not know the shadow for {lag:.2f} s"


def converged_after(url: str, answer: Callable[[], object], expected: object) -> float:
    """Seconds from now to the last answer that was not ``expected``, once 40 in a row
    (each on its own connection, so spread over the workers) are."""
    since = time.monotonic()
    streak, last_wrong = 0, since
    while streak < 40 and time.monotonic() < since + 15:
        if answer() == expected:
            streak += 1
        else:
            streak, last_wrong = 0, time.monotonic()
    assert streak >= 40, f"workers still disagree 15 s after the change at {url}"
    return last_wrong - since


def answer_with_version_1(server: Server) -> None:
    """All of "planted"'s default traffic to version 1 (its newest, 4, sleeps)."""
    httpx.put(
        f"{server.url}/v1/admin/models/planted/traffic",
        json={"traffic": {"1": 100}},
        headers=server.admin,
        timeout=30,
    ).raise_for_status()


def test_a_shadow_is_compared_with_the_served_answers(server: Server) -> None:
    answer_with_version_1(server)
    shadow = cli(server, "shadow", "planted", "2")
    assert shadow.returncode == 0, shadow.stderr
    assert "planted: shadow 2 (version 2), 100% of requests" in shadow.stdout
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for i in range(500):
            answer = http.post("/v1/models/planted:predict", json={"instances": [[i % 10 / 10]]})
            assert answer.json()["predictions"] == ["a"]
    report = compare_report(server, lambda report: report["pairs"] >= 450)
    assert report["version"] == 1 and report["shadow_version"] == 2
    assert abs(report["agreement"] - 0.8) <= 0.02, report
    assert set(report["confusion"]) == {"a"} and set(report["confusion"]["a"]) == {"a", "b"}
    assert report["mean_absolute_difference"] is None

    shown = cli(server, "compare", "planted")
    assert shown.returncode == 0, shown.stderr
    assert "agreement: 8" in shown.stdout  # 80.0%, give or take a dropped copy


@pytest.mark.parametrize("bad", ["3", "4"], ids=["raises", "sleeps-past-the-timeout"])
def test_a_failing_shadow_changes_no_answer(server: Server, bad: str) -> None:
    once(server)
    answer_with_version_1(server)
    failures = compare_report(server)["shadow_failures"]
    assert cli(server, "shadow", "planted", bad).returncode == 0
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for i in range(40):
            answer = http.post("/v1/models/planted:predict", json={"instances": [[0.5 + i]]})
            assert answer.status_code == 200, answer.text
            assert (answer.json()["model_version"], answer.json()["predictions"]) == (1, ["a"])
    # The shadow did run, and failed: its rows say so.
    report = compare_report(server, lambda report: report["shadow_failures"] > failures)
    assert report["shadow_failures"] > failures
    assert cli(server, "shadow", "planted", "off").returncode == 0


def shadow_copies(server: Server) -> dict[str, float]:
    """``modelport_shadow_copies_total`` of "planted", by outcome, from a scrape."""
    scraped = httpx.get(f"{server.url}/metrics", timeout=30).text
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(scraped):
        for sample in family.samples:
            if sample.name == "modelport_shadow_copies_total" and (
                sample.labels["model"] == "planted"
            ):
                found[sample.labels["outcome"]] = sample.value
    return found


def test_under_load_shadow_copies_are_dropped_and_every_copy_is_counted(
    server: Server,
) -> None:
    """Eight clients at once leave the shadow no spare time: their copies are dropped,
    none slows an answer, and answered + failed + dropped is every request sent."""
    once(server)
    answer_with_version_1(server)
    assert cli(server, "shadow", "planted", "2").returncode == 0
    before = shadow_copies(server)

    def client(worker: int) -> list[int]:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            return [
                http.post(
                    "/v1/models/planted:predict", json={"instances": [[(worker + i) % 10 / 10]]}
                ).status_code
                for i in range(50)
            ]

    with ThreadPoolExecutor(8) as pool:
        statuses = [code for codes in pool.map(client, range(8)) for code in codes]
    assert statuses == [200] * 400
    deadline = time.monotonic() + 15
    while True:  # the copies that waited for spare time are answered once the load stops
        after = shadow_copies(server)
        counted = sum(after.get(k, 0) - before.get(k, 0) for k in ("answered", "failed", "dropped"))
        if counted >= 400 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert counted == 400, (before, after)
    assert after["dropped"] > before.get("dropped", 0), after
    assert cli(server, "shadow", "planted", "off").returncode == 0


def compare_report(
    server: Server, done: Callable[[dict[str, Any]], bool] = lambda _: True
) -> dict[str, Any]:
    """The compare report of "planted" once ``done`` says so (the shadow's copies run after
    the answers), or after 15 s."""
    deadline = time.monotonic() + 15
    while True:
        report: dict[str, Any] = httpx.get(
            f"{server.url}/v1/admin/models/planted/compare",
            params={"since": 600},
            headers=server.admin,
            timeout=30,
        ).json()
        if done(report) or time.monotonic() > deadline:
            return report
        time.sleep(0.2)


def test_an_alias_or_version_in_a_split_cannot_be_removed(
    server: Server, trained_models: Path
) -> None:
    once(server)
    two_versions(server, trained_models)
    assert cli(server, "traffic", "iris-lr", "production=90", "2=10").returncode == 0
    admin = f"{server.url}/v1/admin/models/iris-lr"
    for path in ("/aliases/production", "/versions/2"):
        refused = httpx.delete(admin + path, headers=server.admin, timeout=30)
        assert refused.status_code == 409, refused.text
        assert "is in its traffic split" in refused.json()["message"]
    assert cli(server, "traffic", "iris-lr", "off").returncode == 0
