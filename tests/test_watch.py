"""The repository watcher on real files: settled changes only, never a half-written file."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

from modelport.repository.watch import RepositoryWatcher, snapshot_repository


async def _ignore(names: set[str]) -> None:
    return None


def watcher_for(model_dir: Path) -> RepositoryWatcher:
    watcher = RepositoryWatcher(model_dir, _ignore)
    watcher.start_from(snapshot_repository(model_dir))
    return watcher


def poll(watcher: RepositoryWatcher) -> set[str]:
    return watcher.settled_changes(snapshot_repository(watcher.model_dir))


def test_a_new_file_is_reported_once_it_stops_changing(tmp_path: Path) -> None:
    watcher = watcher_for(tmp_path)
    artifact = tmp_path / "lr.model"
    artifact.write_bytes(b"half")
    assert poll(watcher) == set()  # just appeared: maybe still being written
    with artifact.open("ab") as handle:
        handle.write(b" and the rest")
    assert poll(watcher) == set()  # grew since the last poll: still not stable
    assert poll(watcher) == {"lr.model"}  # unchanged across two polls: settled
    assert poll(watcher) == set()  # reported once


def test_new_version_folder_and_removal(tmp_path: Path) -> None:
    (tmp_path / "iris" / "1").mkdir(parents=True)
    (tmp_path / "iris" / "1" / "model.joblib").write_bytes(b"v1")
    watcher = watcher_for(tmp_path)
    assert poll(watcher) == set()
    (tmp_path / "iris" / "2").mkdir()
    (tmp_path / "iris" / "2" / "model.joblib").write_bytes(b"v2")
    poll(watcher)
    assert poll(watcher) == {"iris"}
    (tmp_path / "iris" / "2" / "model.joblib").unlink()
    (tmp_path / "iris" / "2").rmdir()
    poll(watcher)
    assert poll(watcher) == {"iris"}
    shutil.rmtree(tmp_path / "iris")
    poll(watcher)
    assert poll(watcher) == {"iris"}


def test_hidden_and_temporary_entries_are_not_changes(tmp_path: Path) -> None:
    watcher = watcher_for(tmp_path)
    (tmp_path / ".tmp-1-abc").mkdir()
    (tmp_path / ".tmp-1-abc" / "model.joblib").write_bytes(b"staging")
    (tmp_path / "iris").mkdir()
    (tmp_path / "iris" / ".tmp-model.yaml-x").write_bytes(b"staging")
    poll(watcher)
    assert poll(watcher) == {"iris"}  # the folder itself appeared, empty of real files
    (tmp_path / "iris" / ".tmp-model.yaml-x").write_bytes(b"staging, more")
    poll(watcher)
    assert poll(watcher) == set()


def test_modified_file_is_reported(tmp_path: Path) -> None:
    artifact = tmp_path / "lr.model"
    artifact.write_bytes(b"one")
    watcher = watcher_for(tmp_path)
    artifact.write_bytes(b"two!")
    os.utime(artifact, ns=(1, 1))
    poll(watcher)
    assert poll(watcher) == {"lr.model"}


def test_missing_folder_is_an_empty_repository(tmp_path: Path) -> None:
    assert snapshot_repository(tmp_path / "absent") == {}


def test_run_calls_back_with_settled_changes(tmp_path: Path) -> None:
    seen: list[set[str]] = []

    async def record(names: set[str]) -> None:
        seen.append(names)
        if len(seen) == 1:
            raise RuntimeError("a failing reload must not stop the watcher")

    async def scenario() -> None:
        watcher = RepositoryWatcher(tmp_path, record, interval_s=0.02)
        watcher.start_from(snapshot_repository(tmp_path))
        task = asyncio.create_task(watcher.run())
        (tmp_path / "a.model").write_bytes(b"a")
        for _ in range(500):
            await asyncio.sleep(0.01)
            if seen:
                break
        (tmp_path / "b.model").write_bytes(b"b")
        for _ in range(500):
            await asyncio.sleep(0.01)
            if len(seen) == 2:
                break
        task.cancel()

    asyncio.run(scenario())
    assert seen == [{"a.model"}, {"b.model"}]
