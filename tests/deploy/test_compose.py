"""compose.yaml and the Prometheus configuration it mounts, read and checked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from modelport.cli import main as cli

from .tools import DEPLOY, ROOT, load_one, settings_from_env

COMPOSE = ROOT / "compose.yaml"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_one(COMPOSE)


def test_the_stack(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {"modelport", "mariadb", "redis", "prometheus"}
    modelport = compose["services"]["modelport"]
    assert modelport["build"]["context"] == "."  # the repository's Dockerfile
    assert (ROOT / modelport["build"]["context"] / "Dockerfile").is_file()


def test_every_service_has_a_health_check(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        check = service.get("healthcheck")
        assert check, f"{name} has no healthcheck"
        assert check["test"][0] in {"CMD", "CMD-SHELL"}, name
        assert check["interval"] and check["retries"] >= 1, name
    check = compose["services"]["modelport"]["healthcheck"]["test"]
    assert "/health/ready" in " ".join(check)


def test_modelport_waits_for_healthy_dependencies(compose: dict[str, Any]) -> None:
    depends = compose["services"]["modelport"]["depends_on"]
    assert depends == {
        "mariadb": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }
    assert compose["services"]["prometheus"]["depends_on"]["modelport"] == {
        "condition": "service_healthy"
    }


def test_named_volumes_are_declared_and_used(compose: dict[str, Any]) -> None:
    declared = set(compose["volumes"])
    used: set[str] = set()
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith((".", "/")):  # a file of the repository
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in declared, f"{name} uses undeclared volume {source}"
                used.add(source)
    assert used == declared
    mounts = dict(v.split(":")[:2][::-1] for v in compose["services"]["modelport"]["volumes"])
    assert set(mounts) == {"/models", "/data"}


def test_modelport_runs_two_workers_with_real_flags(compose: dict[str, Any]) -> None:
    command = compose["services"]["modelport"]["command"]
    assert command[0] == "serve"
    context = cli.commands["serve"].make_context("serve", list(command[1:]))  # unknown: error
    assert context.params["workers"] == 2


def test_environment_is_real_settings_pointing_at_the_stack(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env = dict(compose["services"]["modelport"]["environment"])
    # ${VAR:?message} is compose's interpolation: a value the user must give.
    for key, value in env.items():
        if "${" in value:
            assert ":?" in value, f"{key} has a default secret: {value}"
    given = {
        k: v.replace("${MARIADB_PASSWORD:?set MARIADB_PASSWORD (e.g. in .env)}", "pw")
        for k, v in env.items()
    }
    given["MODELPORT_ADMIN_TOKEN"] = "token"
    settings = settings_from_env(given, monkeypatch, tmp_path)
    assert settings.database_url is not None
    assert settings.database_url.startswith("mysql+pymysql://modelport:pw@mariadb:3306/")
    assert settings.redis_url == "redis://redis:6379/0"
    # Prometheus names the service: the Host check must let it in.
    assert "modelport" in settings.allowed_hosts


def test_published_ports_stay_on_loopback(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} to all"
    assert "ports" not in compose["services"]["mariadb"]
    assert "ports" not in compose["services"]["redis"]


def test_no_default_passwords(compose: dict[str, Any]) -> None:
    for key, value in compose["services"]["mariadb"]["environment"].items():
        if "PASSWORD" in key:
            assert value.startswith("${") and ":?" in value, key


def test_prometheus_scrapes_modelport_metrics(compose: dict[str, Any]) -> None:
    prometheus = compose["services"]["prometheus"]
    mounted = next(v for v in prometheus["volumes"] if "prometheus.yml" in v)
    source, target = mounted.split(":")[:2]
    assert (ROOT / source).resolve() == DEPLOY / "prometheus" / "prometheus.yml"
    assert target == "/etc/prometheus/prometheus.yml"
    config = load_one(DEPLOY / "prometheus" / "prometheus.yml")
    [job] = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    [static] = job["static_configs"]
    host, port = static["targets"][0].split(":")
    assert host in compose["services"]  # the service's DNS name on compose's network
    assert port == "8000"
