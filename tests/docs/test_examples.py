"""Every code block marked runnable in the README and the docs, against a real server.

The server is ``modelport serve models`` on the example models (``modelport
train-examples``) and whatever the docs' ``file`` blocks put beside them, started with the
flags in ``SERVER_FLAGS`` on a free port. Blocks run in reading order (the README, then
the site's navigation), so a page may build on what an earlier block of the same page did;
the first block that fails (non-zero exit, or a missing ``# =>`` output) fails the test.
See ``blocks.py`` for the markers.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from e2e.conftest import Server
from modelport.train_examples import train_examples

from .blocks import RUN_LANGUAGES, Block, documents, expectation_regex, find_blocks

pytestmark = pytest.mark.e2e

#: What the pages that need them say the server was started with: uploads of pickles
#: (uploads how-to), a default model for MLflow's /invocations, CORS for any origin
#: (browsers how-to) and the response cache for every model (cache how-to).
SERVER_FLAGS = [
    "--allow-pickle-uploads",
    "--default-model",
    "iris-lr",
    "--cors-origins",
    "*",
    "--cache",
]
BLOCK_TIMEOUT_S = 60
VENV_BIN = Path(sys.executable).parent


def all_blocks() -> list[Block]:
    return [block for path in documents() for block in find_blocks(path)]


def run_block(block: Block, workdir: Path, env: dict[str, str], server: Server | None) -> None:
    code = block.code
    if server is not None:
        code = code.replace("127.0.0.1:8000", f"127.0.0.1:{server.port}")
        code = code.replace("localhost:8000", f"localhost:{server.port}")
        code = code.replace("127.0.0.1:8001", server.grpc_target)
    if RUN_LANGUAGES[block.language] == "bash":
        command = ["bash", "-euo", "pipefail", "-c", code]
    else:
        command = [sys.executable, "-c", code]
    try:
        done = subprocess.run(
            command,
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=BLOCK_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{block.where}: still running after {BLOCK_TIMEOUT_S} s\n{code}{exc}")

    def failure(why: str) -> str:
        log = server.log().splitlines()[-30:] if server is not None else []
        return (
            f"{block.where}: {why}\n--- block\n{code}--- stdout\n{done.stdout}\n"
            f"--- stderr\n{done.stderr}\n--- server log (end)\n" + "\n".join(log)
        )

    if done.returncode != 0:
        pytest.fail(failure(f"exited with status {done.returncode}"), pytrace=False)
    position = 0
    for expected in block.expected:
        found = expectation_regex(expected).search(done.stdout, position)
        if found is None:
            pytest.fail(failure(f"the output does not show {expected!r}"), pytrace=False)
        position = found.end()


@pytest.fixture(scope="module")
def docs_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Server, Path, dict[str, str]]]:
    workdir = tmp_path_factory.mktemp("docs")
    train_examples(workdir / "models")
    blocks = all_blocks()
    for block in blocks:
        if block.kind == "file":
            assert block.target is not None
            target = workdir / block.target
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.code, encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if not key.startswith("MODELPORT_")}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    for block in blocks:
        if block.kind == "before-server":
            run_block(block, workdir, env, None)
    server = Server(["models", *SERVER_FLAGS], cwd=workdir)
    try:
        server.wait_ready()
        env["XDG_RUNTIME_DIR"] = str(server.runtime_dir)
        # What `modelport upload`, `models` and `admin-token` would find at port 8000.
        env["MODELPORT_URL"] = server.url
        yield server, workdir, env
    finally:
        server.stop()


def test_every_runnable_block_runs(docs_server: tuple[Server, Path, dict[str, str]]) -> None:
    server, workdir, env = docs_server
    ran = 0
    for block in all_blocks():
        if block.kind == "run":
            run_block(block, workdir, env, server)
            ran += 1
    assert ran >= 20, f"only {ran} runnable blocks: were the markers lost?"


def test_stats_counters_are_all_documented(
    docs_server: tuple[Server, Path, dict[str, str]],
) -> None:
    """The live GET /v1/admin/stats answer has no key the metrics page lacks."""
    server, _, _ = docs_server
    answer = httpx.get(f"{server.url}/v1/admin/stats", headers=server.admin, timeout=10)
    assert answer.status_code == 200, answer.text
    page = (Path(__file__).resolve().parents[2] / "docs" / "reference" / "metrics.md").read_text()
    for section, value in answer.json().items():
        assert f"`{section}`" in page
        for key in value if isinstance(value, dict) else {}:
            assert f"`{section}.{key}`" in page, f"{section}.{key} is not on the metrics page"
