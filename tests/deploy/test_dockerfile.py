"""The Dockerfile and .dockerignore: hadolint, and what the image promises, read from them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from e2e.conftest import StartServer

from .tools import ROOT, hadolint, settings_from_env

DOCKERFILE = ROOT / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments left out."""
    logical: list[str] = []
    pending = ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if pending and line.lstrip().startswith("#"):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    found = []
    for text in logical:
        word, _, rest = text.strip().partition(" ")
        found.append((word.upper(), rest.strip()))
    return found


def stages() -> list[list[tuple[str, str]]]:
    """The instructions of each build stage (FROM starts one)."""
    result: list[list[tuple[str, str]]] = []
    for instruction in instructions():
        if instruction[0] == "FROM":
            result.append([])
        if result:
            result[-1].append(instruction)
    return result


def env_of(stage: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for word, rest in stage:
        if word == "ENV":
            for pair in re.findall(r"(\w+)=(\S+)", rest):
                env[pair[0]] = pair[1]
    return env


def only(stage: list[tuple[str, str]], word: str) -> str:
    found = [rest for w, rest in stage if w == word]
    assert len(found) == 1, f"{word}: {found}"
    return found[0]


def test_hadolint_finds_nothing() -> None:
    done = hadolint(DOCKERFILE)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "", done.stdout


def test_hadolint_would_see_a_problem(tmp_path: Path) -> None:
    # The same tool on a Dockerfile with known faults: proves it really lints.
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN cd /src && pip install modelport\n")
    done = hadolint(bad)
    assert done.returncode != 0
    assert "DL3007" in done.stdout  # latest tag
    assert "DL3003" in done.stdout  # cd instead of WORKDIR


def test_two_stages_from_one_base_argument() -> None:
    words = [word for word, _ in instructions()]
    args = [rest for word, rest in instructions()[: words.index("FROM")] if word == "ARG"]
    assert args == ["BASE=python:3.11-slim"]
    build, runtime = stages()
    assert only(build, "FROM") == "${BASE} AS build"
    assert only(runtime, "FROM") == "${BASE}"
    # The wheel is built in the first stage; the second gets only the installed venv.
    build_run = " ".join(rest for word, rest in build if word == "RUN")
    assert "pip wheel" in build_run
    assert "-c requirements.lock" in build_run
    assert ("COPY", "--from=build /opt/modelport /opt/modelport") in runtime
    assert not any(word == "RUN" and "pip" in rest for word, rest in runtime)


def test_extras_are_a_build_argument_naming_real_extras() -> None:
    build = stages()[0]
    extras = next(rest for word, rest in build if word == "ARG" and rest.startswith("EXTRAS="))
    names = extras.removeprefix("EXTRAS=").split(",")
    assert {"sklearn", "xgboost", "lightgbm", "onnx", "grpc"} <= set(names)
    declared = _pyproject_extras()
    assert set(names) <= declared, set(names) - declared


def _pyproject_extras() -> set[str]:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return set(project["optional-dependencies"])


def test_runtime_stage_runs_as_a_user_without_privileges() -> None:
    runtime = stages()[1]
    user = only(runtime, "USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) >= 1000, user  # numeric: runAsNonRoot can check it
    assert gid.isdigit() and int(gid) >= 1000, user
    setup = " ".join(rest for word, rest in runtime if word == "RUN")
    assert f"--uid {uid}" in setup and f"--gid {gid}" in setup
    # USER comes before the process starts: nothing after it runs as root.
    words = [word for word, _ in runtime]
    assert words.index("USER") < words.index("ENTRYPOINT")
    assert "RUN" not in words[words.index("USER") :]


def test_models_volume_ports_and_signals() -> None:
    runtime = stages()[1]
    volumes = json.loads(only(runtime, "VOLUME"))
    assert "/models" in volumes
    assert only(runtime, "EXPOSE").split() == ["8000", "8001"]
    env = env_of(runtime)
    assert env["MODELPORT_MODEL_DIR"] == "/models"
    assert env["MODELPORT_PORT"] == "8000"
    assert env["MODELPORT_GRPC_PORT"] == "8001"
    assert env["MODELPORT_HOST"] == "0.0.0.0"
    assert env["MODELPORT_DATA_DIR"] in volumes
    # Exec form (a JSON list): modelport itself is PID 1 and receives SIGTERM.
    assert json.loads(only(runtime, "ENTRYPOINT")) == ["modelport"]
    assert json.loads(only(runtime, "CMD")) == ["serve"]
    assert only(runtime, "STOPSIGNAL") == "SIGTERM"


def test_the_image_checks_host_names() -> None:
    # Bound to 0.0.0.0 modelport makes no Host check unless names are listed: the image
    # lists the loopback names, so a port published on a desktop resists DNS rebinding.
    from modelport.access import host_check_for
    from modelport.config import Settings

    env = env_of(stages()[1])
    hosts = env["MODELPORT_ALLOWED_HOSTS"].split(",")
    settings = Settings(host=env["MODELPORT_HOST"], allowed_hosts=tuple(hosts))
    allowed = host_check_for(settings)
    assert allowed is not None
    assert allowed == {"localhost", "127.0.0.1", "::1"}


def healthcheck_command() -> list[str]:
    text = only(stages()[1], "HEALTHCHECK")
    assert "--start-period=" in text and "--interval=" in text
    command = json.loads(text.split("CMD", 1)[1])
    assert isinstance(command, list)
    return [str(part) for part in command]


@pytest.mark.e2e
def test_healthcheck_turns_healthy_with_a_ready_server(
    start_server: StartServer, model_dir: Path
) -> None:
    command = healthcheck_command()
    assert command[0] == "python3"
    assert "/health/ready" in command[-1]
    server = start_server([str(model_dir)])
    env = {**os.environ, "MODELPORT_PORT": str(server.port)}
    python = [sys.executable, *command[1:]]
    server.wait_ready()
    done = subprocess.run(python, env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    # Nothing listening: unhealthy.
    assert server.stop() == 0
    done = subprocess.run(python, env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode != 0


def dockerignore_keeps(path: str) -> bool:
    """Whether the build context keeps ``path``, by Docker's rules: the last pattern that
    matches the path or one of its parent folders decides; '!' keeps."""
    keep = True
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        pattern = line.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negated = pattern.startswith("!")
        regex = _pattern_regex(pattern.lstrip("!").strip("/"))
        parts = path.split("/")
        if any(regex.fullmatch("/".join(parts[: i + 1])) for i in range(len(parts))):
            keep = negated
    return keep


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def test_dockerignore_sends_only_what_the_build_copies() -> None:
    copied = [
        rest.split()[:-1]
        for word, rest in instructions()
        if word == "COPY" and not rest.startswith("--from")
    ]
    assert copied
    for sources in copied:
        for source in sources:
            assert (ROOT / source).exists(), source
            assert dockerignore_keeps(source), f"COPY {source}, but .dockerignore leaves it out"
    assert dockerignore_keeps("src/modelport/__init__.py")
    for private in (".venv/bin/python", ".git/config", "models/iris/1/model.joblib", ".env"):
        assert not dockerignore_keeps(private), private
    assert not dockerignore_keeps("src/modelport/__pycache__/cli.cpython-311.pyc")


def test_image_environment_is_real_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env = {k: v for k, v in env_of(stages()[1]).items() if k.startswith("MODELPORT_")}
    settings = settings_from_env(env, monkeypatch, tmp_path)
    assert str(settings.model_dir) == "/models"
    assert str(settings.data_dir) == "/data"
