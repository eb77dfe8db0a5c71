"""The Helm chart, linted and rendered offline with Helm's SDK; every rendered object is
then validated against the Kubernetes API's schemas (kubernetes-validate --strict)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from .tools import DEPLOY, helm, kubernetes_validate, settings_from_env

CHART = DEPLOY / "helm" / "modelport"
RELEASE, NAMESPACE = "demo", "ml"
FULLNAME = f"{RELEASE}-modelport"

#: Values that turn on every optional part of the chart.
EVERYTHING_ON: dict[str, Any] = {
    "secrets": {
        "adminToken": "admin-secret",
        "apiToken": "api-secret",
        "databaseUrl": "postgresql+psycopg://modelport:pw@db/modelport",
        "redisUrl": "redis://redis:6379/0",
    },
    "autoscaling": {"customMetric": {"enabled": True}},
    "allowedHosts": ["models.example.com"],
    "settings": {"cache": "true", "LOG_LEVEL": "warning", "cors_origins": "https://a.example"},
    "service": {"annotations": {"example.com/team": "ml"}},
    "imagePullSecrets": [{"name": "registry"}],
    "nodeSelector": {"kubernetes.io/os": "linux"},
    "tolerations": [{"key": "ml", "operator": "Exists", "effect": "NoSchedule"}],
}
OBJECT_STORE: dict[str, Any] = {
    "models": {
        "source": "objectStore",
        "objectStore": {"url": "s3://models/prod", "envFromSecret": "s3-credentials"},
    },
    "autoscaling": {"enabled": False},
    "replicaCount": 3,
    "secrets": {"existingSecret": "modelport-secrets"},
}
VARIANTS = {"defaults": None, "everything-on": EVERYTHING_ON, "object-store": OBJECT_STORE}


def render(values: dict[str, Any] | None) -> list[dict[str, Any]]:
    manifests: dict[str, str] = helm("render", str(CHART), values, RELEASE, NAMESPACE)
    objects: list[dict[str, Any]] = []
    for name, text in sorted(manifests.items()):
        if name.endswith(".yaml"):
            objects.extend(d for d in yaml.safe_load_all(text) if d)
    return objects


def by_kind(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    kinds: dict[str, dict[str, Any]] = {}
    for document in objects:
        assert document["kind"] not in kinds, f"two {document['kind']} objects"
        kinds[document["kind"]] = document
    return kinds


@pytest.mark.parametrize("values", [None, EVERYTHING_ON, OBJECT_STORE], ids=list(VARIANTS))
def test_lint_finds_no_error_nor_warning(values: dict[str, Any] | None) -> None:
    report = helm("lint", str(CHART), values)
    assert report["total_charts_linted"] == 1
    assert report["errors"] == []
    # Severity 2 is a warning, 3 an error; 1 (info) is only "icon is recommended".
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


def test_lint_would_see_a_broken_template(tmp_path: Path) -> None:
    broken = tmp_path / "modelport"
    broken.mkdir()
    (broken / "Chart.yaml").write_text((CHART / "Chart.yaml").read_text())
    (broken / "values.yaml").write_text("{}\n")
    (broken / "templates").mkdir()
    (broken / "templates" / "x.yaml").write_text("kind: ConfigMap\n{{ .Values.nope.deeper }}\n")
    report = helm("lint", str(broken), None)
    assert report["errors"] or [m for m in report["messages"] if m["severity"] >= 2]


@pytest.mark.parametrize("values", [None, EVERYTHING_ON, OBJECT_STORE], ids=list(VARIANTS))
def test_every_rendered_object_validates(values: dict[str, Any] | None, tmp_path: Path) -> None:
    objects = render(values)
    kinds = {o["kind"] for o in objects}
    assert {"Deployment", "Service", "ConfigMap"} <= kinds
    kubernetes_validate(objects, tmp_path)


def test_validation_would_see_a_wrong_field(tmp_path: Path) -> None:
    deployment = by_kind(render(None))["Deployment"]
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(AssertionError, match="readinesProbe"):
        kubernetes_validate([deployment], tmp_path)


def test_defaults_make_every_part() -> None:
    kinds = by_kind(render(None))
    assert set(kinds) == {
        "ConfigMap",
        "Deployment",
        "HorizontalPodAutoscaler",
        "PersistentVolumeClaim",
        "Secret",
        "Service",
    }


def container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    pod = by_kind(objects)["Deployment"]["spec"]["template"]["spec"]
    containers = pod["containers"]
    assert [c["name"] for c in containers] == ["modelport"]
    result: dict[str, Any] = containers[0]
    return result


def test_probes_on_the_health_endpoints() -> None:
    main = container(render(None))
    assert main["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": "http"}
    assert main["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "http"}
    assert main["startupProbe"]["httpGet"]["path"] == "/health/live"
    # The probes' paths answer without a token and whatever the Host (modelport's policy).
    from modelport.access import OPEN_PATHS

    assert {"/health/live", "/health/ready"} <= OPEN_PATHS


def test_non_root_and_read_only_root_file_system() -> None:
    objects = render(None)
    pod = by_kind(objects)["Deployment"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001  # the image's USER
    assert pod["automountServiceAccountToken"] is False
    main = container(objects)
    assert main["securityContext"]["readOnlyRootFilesystem"] is True
    assert main["securityContext"]["allowPrivilegeEscalation"] is False
    assert main["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert main["resources"]["requests"]["cpu"]
    assert main["resources"]["limits"]["memory"]
    # A read-only root: every folder modelport writes to is a volume.
    mounts = {m["mountPath"] for m in main["volumeMounts"]}
    config = by_kind(objects)["ConfigMap"]["data"]
    assert {"/tmp", config["MODELPORT_DATA_DIR"], config["MODELPORT_MODEL_DIR"]} <= mounts


def test_service_names_the_http_and_grpc_ports() -> None:
    objects = render(None)
    service = by_kind(objects)["Service"]
    ports = {p["name"]: p for p in service["spec"]["ports"]}
    assert ports["http"]["port"] == 8000 and ports["grpc"]["port"] == 8001
    assert ports["grpc"]["appProtocol"] == "grpc"
    container_ports = {p["name"]: p["containerPort"] for p in container(objects)["ports"]}
    assert container_ports == {"http": 8000, "grpc": 8001}
    config = by_kind(objects)["ConfigMap"]["data"]
    assert config["MODELPORT_PORT"] == "8000" and config["MODELPORT_GRPC_PORT"] == "8001"


def test_grpc_port_zero_turns_grpc_off() -> None:
    objects = render({"service": {"grpcPort": 0}})
    assert [p["name"] for p in by_kind(objects)["Service"]["spec"]["ports"]] == ["http"]
    assert [p["name"] for p in container(objects)["ports"]] == ["http"]
    assert by_kind(objects)["ConfigMap"]["data"]["MODELPORT_GRPC_PORT"] == "0"


def test_autoscaler_on_cpu_and_a_custom_metric() -> None:
    hpa = by_kind(render(EVERYTHING_ON))["HorizontalPodAutoscaler"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == FULLNAME
    metrics = {m["type"]: m for m in hpa["spec"]["metrics"]}
    assert metrics["Resource"]["resource"]["name"] == "cpu"
    assert metrics["Pods"]["pods"]["metric"]["name"] == "modelport_queue_depth"
    # The autoscaler owns the replica count.
    assert "replicas" not in by_kind(render(EVERYTHING_ON))["Deployment"]["spec"]
    assert by_kind(render(OBJECT_STORE))["Deployment"]["spec"]["replicas"] == 3


def test_secret_holds_tokens_and_urls_and_the_pod_reads_it() -> None:
    import base64

    objects = render(EVERYTHING_ON)
    secret = by_kind(objects)["Secret"]
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert data == {
        "MODELPORT_ADMIN_TOKEN": "admin-secret",
        "MODELPORT_API_TOKEN": "api-secret",
        "MODELPORT_DATABASE_URL": "postgresql+psycopg://modelport:pw@db/modelport",
        "MODELPORT_REDIS_URL": "redis://redis:6379/0",
    }
    sources = container(objects)["envFrom"]
    assert {"secretRef": {"name": FULLNAME}} in sources
    # Secrets never land in the ConfigMap.
    assert not {k for k in by_kind(objects)["ConfigMap"]["data"] if "TOKEN" in k or "URL" in k}


def test_without_a_token_one_is_made() -> None:
    import base64

    secret = by_kind(render(None))["Secret"]
    token = base64.b64decode(secret["data"]["MODELPORT_ADMIN_TOKEN"]).decode()
    assert len(token) == 40 and token.isalnum()


def test_existing_secret_replaces_the_charts_own() -> None:
    objects = render(OBJECT_STORE)
    assert "Secret" not in by_kind(objects)
    assert {"secretRef": {"name": "modelport-secrets"}} in container(objects)["envFrom"]


def test_models_from_a_claim_or_an_object_store() -> None:
    default = render(None)
    pod = by_kind(default)["Deployment"]["spec"]["template"]["spec"]
    claim = by_kind(default)["PersistentVolumeClaim"]["metadata"]["name"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["models"]["persistentVolumeClaim"]["claimName"] == claim
    assert "initContainers" not in pod

    fetched = render(OBJECT_STORE)
    assert "PersistentVolumeClaim" not in by_kind(fetched)
    pod = by_kind(fetched)["Deployment"]["spec"]["template"]["spec"]
    assert "emptyDir" in {v["name"]: v for v in pod["volumes"]}["models"]
    [init] = pod["initContainers"]
    assert init["args"] == ["s3://models/prod", "/models"]
    assert init["envFrom"] == [{"secretRef": {"name": "s3-credentials"}}]
    assert init["securityContext"]["readOnlyRootFilesystem"] is True


def test_wrong_values_stop_the_render() -> None:
    for values, message in [
        ({"models": {"source": "nfs"}}, "models.source must be pvc or objectStore"),
        ({"models": {"source": "objectStore"}}, "set models.objectStore.url"),
        ({"settings": {"port": "9000"}}, "set by the chart itself"),
    ]:
        with pytest.raises(AssertionError, match=message):
            render(values)


def test_allowed_hosts_name_the_pod_and_the_service() -> None:
    env = {e["name"]: e for e in container(render(EVERYTHING_ON))["env"]}
    assert env["POD_IP"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
    hosts = env["MODELPORT_ALLOWED_HOSTS"]["value"].split(",")
    assert hosts[0] == "$(POD_IP)"  # expanded by the kubelet: Prometheus scrapes the pod IP
    assert f"{FULLNAME}.{NAMESPACE}.svc.cluster.local" in hosts
    assert {FULLNAME, "localhost", "127.0.0.1", "models.example.com"} <= set(hosts)
    # POD_IP must come first for $(POD_IP) to be expanded.
    names = list(env)
    assert names.index("POD_IP") < names.index("MODELPORT_ALLOWED_HOSTS")


@pytest.mark.parametrize("values", [None, EVERYTHING_ON, OBJECT_STORE], ids=list(VARIANTS))
def test_every_setting_the_chart_gives_is_a_valid_modelport_setting(
    values: dict[str, Any] | None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    objects = render(values)
    env = dict(by_kind(objects)["ConfigMap"]["data"])
    env.update(
        (e["name"], e["value"].replace("$(POD_IP)", "10.0.0.7"))
        for e in container(objects)["env"]
        if "value" in e
    )
    if "Secret" in by_kind(objects):
        import base64

        secret = by_kind(objects)["Secret"]["data"]
        env.update((k, base64.b64decode(v).decode()) for k, v in secret.items())
    settings = settings_from_env(env, monkeypatch, tmp_path)
    assert settings.host == "0.0.0.0"
    assert str(settings.model_dir) == "/models"
