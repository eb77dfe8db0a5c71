"""The disk fills up under the real server: the model folder during an upload, and the
SQLite prediction log's filesystem while predictions flow. Each runs on a small tmpfs of
its own (mounted here, so only as root); the numbers the reliability checks ask for are
printed and asserted: good predictions that failed, log rows lost beyond those counted
as dropped, time to recover."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from e2e.conftest import StartServer
from e2e.faultload import Predictor

pytestmark = pytest.mark.e2e

IRIS_ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
IRIS_CALL = ("/v1/models/iris-lr:predict", {"instances": IRIS_ROWS})


@contextlib.contextmanager
def tmpfs(folder: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted on ``folder`` for the block; unmounted after it."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder: Path, leave: int) -> Path:
    """A file taking all the free space on ``folder``'s filesystem but ``leave`` bytes."""
    filler = folder / "filler.bin"
    stat = os.statvfs(folder)
    free = stat.f_bavail * stat.f_frsize
    with filler.open("wb") as handle:
        handle.truncate(0)
        chunk = b"\0" * (1 << 20)
        remaining = max(free - leave, 0)
        with contextlib.suppress(OSError):  # a tmpfs may hold a few pages less
            while remaining > 0:
                remaining -= handle.write(chunk[: min(len(chunk), remaining)])
    return filler


def free_bytes(folder: Path) -> int:
    stat = os.statvfs(folder)
    return stat.f_bavail * stat.f_frsize


@pytest.mark.parametrize("database", ["elsewhere", "on the same disk"])
def test_an_upload_that_fills_the_disk_is_refused_whole(
    start_server: StartServer, trained_models: Path, tmp_path: Path, database: str
) -> None:
    with tmpfs(tmp_path / "disk", "8m") as disk:
        models = disk / "models"
        shutil.copytree(trained_models / "iris-lr", models / "iris-lr")
        artifact = (models / "iris-lr" / "1" / "model.joblib").read_bytes()
        place = ["--data-dir", str(tmp_path / "data")] if database == "elsewhere" else []
        server = start_server([str(models), *place, "--allow-pickle-uploads"])
        server.wait_ready()
        with httpx.Client(base_url=server.url, timeout=30, headers=server.admin) as http:
            before = http.get("/v1/admin/models/iris-lr/versions").json()
            served_before = http.get("/v1/models/iris-lr").json()
            files_before = sorted(p.name for p in (models / "iris-lr").iterdir())
            filler = fill(disk, leave=512 * 1024)
            with Predictor(server.url, [IRIS_CALL]) as predictor:
                # The body does not fit (streamed to disk); then the body fits but the
                # version folder, with an extra file, does not (a version number is
                # reserved by then).
                refused = [
                    http.post(
                        "/v1/admin/models/iris-lr/versions",
                        params={"filename": "model.joblib"},
                        content=artifact + os.urandom(2 * 1024 * 1024),
                        headers={"content-type": "application/octet-stream"},
                    ),
                    http.post(
                        "/v1/admin/models/iris-lr/versions",
                        files=[
                            ("file", ("model.joblib", artifact)),
                            ("files", ("extra.bin", os.urandom(1000 * 1024))),
                        ],
                    ),
                ]
                for answer in refused:
                    assert answer.status_code == 507, answer.text
                    assert answer.json()["error"] == "insufficient_storage"
                    assert "space" in answer.json()["message"]
                    assert str(disk) not in answer.json()["message"]
                    # Nothing half-written: no version folder, no staged upload, no version.
                    assert sorted(p.name for p in (models / "iris-lr").iterdir()) == files_before
                    assert list((models / ".uploads").iterdir()) == []
                    assert http.get("/v1/admin/models/iris-lr/versions").json() == before
                    assert http.get("/v1/models/iris-lr").json() == served_before
                # The number reserved for the second one is history, marked deleted.
                history = http.get(
                    "/v1/admin/models/iris-lr/versions", params={"include_deleted": "true"}
                ).json()["versions"]
                assert {v["state"] for v in history if v["version"] != 1} <= {"deleted"}
                time.sleep(0.3)  # predictions on a full disk
                filler.unlink()
                freed = time.monotonic()
                fits = http.post(
                    "/v1/admin/models/iris-lr/versions",
                    params={"filename": "model.joblib"},
                    content=artifact,
                    headers={"content-type": "application/octet-stream"},
                )
                recovered_s = time.monotonic() - freed
                assert fits.status_code == 201, fits.text
            after = http.get("/v1/admin/models/iris-lr/versions").json()
            assert [v["version"] for v in after["versions"]] == [1, fits.json()["version"]]
        print(
            f"\nupload on a full disk (database {database}): {predictor.sent} good predictions "
            f"sent, {len(predictor.failed)} failed; recovered {recovered_s:.2f} s after space "
            "was freed"
        )
        assert predictor.failed == []
        assert len(predictor.answers) == 1  # every answer the same, and correct
        assert server.process.poll() is None


def _stats(http: httpx.Client) -> dict[str, int]:
    return http.get("/v1/admin/stats").json()["prediction_log"]  # type: ignore[no-any-return]


def _logged_rows(database: Path) -> int:
    import sqlite3

    with contextlib.closing(sqlite3.connect(database)) as connection:
        return int(connection.execute("SELECT count(*) FROM prediction_log").fetchone()[0])


def test_a_full_disk_under_the_prediction_log_never_fails_a_prediction(
    start_server: StartServer, model_dir: Path, tmp_path: Path
) -> None:
    with tmpfs(tmp_path / "disk", "2m") as disk:
        database = disk / "log.db"
        server = start_server(
            [
                str(model_dir),
                "--database-url",
                f"sqlite:///{database}",
                "--log-buffer-size",
                "50",
                "--log-flush-interval",
                "0.05",
            ]
        )
        server.wait_ready()
        with httpx.Client(base_url=server.url, timeout=30, headers=server.admin) as http:
            good = http.post("/v1/models/iris-lr:predict", json={"instances": IRIS_ROWS})
            assert good.status_code == 200
            filler = fill(disk, leave=0)
            with Predictor(server.url, [IRIS_CALL]) as predictor:
                deadline = time.monotonic() + 10
                while _stats(http)["dropped"] == 0 and time.monotonic() < deadline:
                    time.sleep(0.1)
                stuck = _stats(http)
                assert stuck["dropped"] > 0, stuck
                assert stuck["database_up"] is False
                filler.unlink()
                freed = time.monotonic()
                while not _stats(http)["database_up"] and time.monotonic() < freed + 10:
                    time.sleep(0.05)
                recovered_s = time.monotonic() - freed
                time.sleep(0.3)  # rows logged after the recovery
            deadline = time.monotonic() + 10
            while _stats(http)["buffered"] and time.monotonic() < deadline:
                time.sleep(0.05)
            stats = _stats(http)
            metrics = http.get("/metrics").text
        sent = predictor.sent + 1
        lost = sent - stats["written"] - stats["dropped"] - stats["rejected"]
        in_table = _logged_rows(database)
        print(
            f"\nprediction log on a full disk: {sent} good predictions, "
            f"{len(predictor.failed)} failed; {stats['written']} logged ({in_table} in the "
            f"table), {stats['dropped']} counted as dropped, {lost} lost beyond those; "
            f"logging resumed {recovered_s:.2f} s after space was freed"
        )
        assert predictor.failed == []
        assert len(predictor.answers) == 1
        assert lost == 0, stats
        assert stats["rejected"] == 0
        assert in_table == stats["written"]
        assert stats["database_up"] is True
        assert recovered_s < 5
        dropped_metric = next(
            line
            for line in metrics.splitlines()
            if line.startswith("modelport_prediction_log_rows_total")
            and 'outcome="dropped"' in line
        )
        assert float(dropped_metric.rsplit(" ", 1)[1]) == stats["dropped"]
        assert server.process.poll() is None
