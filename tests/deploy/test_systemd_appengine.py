"""The systemd unit (its ExecStart is a real `modelport serve` command line; systemd's own
checker) and the App Engine app.yaml (real settings, the health paths)."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import click
import httpx
import pytest

from e2e.conftest import StartServer
from modelport.access import OPEN_PATHS
from modelport.cli import main as cli

from .tools import DEPLOY, load_one, settings_from_env

UNIT = DEPLOY / "systemd" / "modelport.service"
APP_YAML = DEPLOY / "appengine" / "app.yaml"


def unit_entries() -> dict[str, list[str]]:
    """Each key of the unit's [Service] section and its values, in order."""
    entries: dict[str, list[str]] = {}
    section = None
    for line in UNIT.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line
            continue
        if section == "[Service]":
            key, _, value = line.partition("=")
            entries.setdefault(key, []).append(value)
    return entries


def exec_start() -> list[str]:
    [line] = unit_entries()["ExecStart"]
    return shlex.split(line)


def test_exec_start_flags_are_real_serve_flags() -> None:
    command = exec_start()
    assert command[0] == "/opt/modelport/bin/modelport"
    assert command[1] == "serve"
    serve = cli.commands["serve"]
    # click's own parser: an unknown flag or a bad value raises.
    context = serve.make_context("serve", command[2:])
    assert context.params["pid_file"] is not None
    assert context.params["workers"] == 2
    with pytest.raises(click.UsageError):
        serve.make_context("serve", [*command[2:], "--no-such-flag"])


def test_restart_policy_and_hardening() -> None:
    entries = unit_entries()
    assert entries["Restart"] == ["on-failure"]
    assert entries["User"] == ["modelport"]
    for key in ("NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp"):
        assert entries[key][0] in {"yes", "strict"}, key
    # The pid file is in the runtime folder systemd makes for the service.
    pid_file = Path(exec_start()[exec_start().index("--pid-file") + 1])
    assert pid_file.parent == Path("/run") / entries["RuntimeDirectory"][0]
    # Stopping waits longer than a request may run.
    assert int(entries["TimeoutStopSec"][0]) > 60


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_analyze_verify_finds_nothing(tmp_path: Path) -> None:
    # The program path as it is here; everything else as shipped.
    text = UNIT.read_text().replace(
        "/opt/modelport/bin/modelport", str(Path(sys.executable).with_name("modelport"))
    )
    unit = tmp_path / "modelport.service"
    unit.write_text(text)
    done = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    ours = [line for line in done.stderr.splitlines() if str(unit) in line]
    assert ours == [], ours
    # The same check on a wrong value: it is reported.
    unit.write_text(text.replace("Restart=on-failure", "Restart=sometimes"))
    done = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert "restart" in done.stderr.lower()


@pytest.mark.e2e
def test_exec_start_serves_and_keeps_its_pid_file(
    start_server: StartServer, model_dir: Path, tmp_path: Path
) -> None:
    args = exec_start()[2:]
    args[0] = str(model_dir)  # the model folder
    pid_file = tmp_path / "modelport.pid"
    args[args.index("--pid-file") + 1] = str(pid_file)
    args[args.index("--data-dir") + 1] = str(tmp_path)
    # start_server puts a free --port and --grpc-port after these (the last flag wins).
    server = start_server(args)
    server.wait_ready()
    assert int(pid_file.read_text()) == server.process.pid
    answer = httpx.post(
        f"{server.url}/v1/models/iris-lr:predict",
        json={"instances": [[5.1, 3.5, 1.4, 0.2]]},
        timeout=10,
    )
    assert answer.json()["predictions"] == ["setosa"]
    assert server.stop() == 0
    assert not pid_file.exists()


def test_app_yaml_is_flexible_with_real_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    app = load_one(APP_YAML)
    assert app["env"] == "flex"
    assert app["runtime"] == "custom"  # built from the repository's Dockerfile
    env = {k: str(v) for k, v in app["env_variables"].items()}
    settings = settings_from_env(env, monkeypatch, tmp_path)
    assert settings.port == 8080  # App Engine sends its traffic to 8080
    assert settings.host == "0.0.0.0"
    assert settings.proxy_headers is True
    for check in ("liveness_check", "readiness_check"):
        assert app[check]["path"] in OPEN_PATHS, check
    assert app["readiness_check"]["path"] == "/health/ready"
    assert app["liveness_check"]["path"] == "/health/live"
