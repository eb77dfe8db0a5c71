"""new_version_folder and write_file_atomically: all or nothing, on a real disk."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from modelport.errors import ConflictError, InvalidRequestError, StorageFullError
from modelport.repository import new_version_folder, scan_repository, write_file_atomically
from modelport.repository.writer import disk_full_is_an_error
from modelport.runtimes.base import artifact_suffixes


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def every_path(root: Path) -> list[Path]:
    return sorted(root.rglob("*"))


# -- new_version_folder -----------------------------------------------------------------


def test_yields_a_hidden_staging_folder_then_renames_it(tmp_path: Path) -> None:
    with new_version_folder(tmp_path, "iris", 1) as staging:
        assert staging.is_dir()
        assert staging.parent == tmp_path / "iris"
        assert staging.name.startswith(".tmp-1-")
        assert list(staging.iterdir()) == []
        # Not visible as a version while it is being written.
        assert not (tmp_path / "iris" / "1").exists()
        (staging / "model.joblib").write_bytes(b"weights")
        (staging / "extra").mkdir()
        (staging / "extra" / "notes.txt").write_text("n")

    final = tmp_path / "iris" / "1"
    assert not staging.exists()
    assert (final / "model.joblib").read_bytes() == b"weights"
    assert (final / "extra" / "notes.txt").read_text() == "n"
    assert [p.name for p in (tmp_path / "iris").iterdir()] == ["1"]


def test_new_version_is_found_by_a_scan(tmp_path: Path) -> None:
    with new_version_folder(tmp_path, "iris", 3) as staging:
        (staging / "model.joblib").write_bytes(b"weights")
        # A scan in the middle of the write sees no version.
        [during] = scan_repository(tmp_path, artifact_suffixes())
        assert during.versions == {}

    [after] = scan_repository(tmp_path, artifact_suffixes())
    assert list(after.versions) == [3]
    assert after.versions[3].artifact == tmp_path / "iris" / "3" / "model.joblib"


def test_version_folder_is_not_private(tmp_path: Path) -> None:
    with new_version_folder(tmp_path, "iris", 1) as staging:
        assert mode_of(staging) == 0o755
        (staging / "model.joblib").write_bytes(b"weights")

    assert mode_of(tmp_path / "iris" / "1") == 0o755


def test_exception_leaves_no_version_and_no_staging_folder(tmp_path: Path) -> None:
    (tmp_path / "iris").mkdir()

    with (
        pytest.raises(RuntimeError, match="upload broke"),
        new_version_folder(tmp_path, "iris", 1) as staging,
    ):
        (staging / "model.joblib").write_bytes(b"half")
        raise RuntimeError("upload broke")

    assert not staging.exists()
    assert every_path(tmp_path) == [tmp_path / "iris"]


def test_keyboard_interrupt_also_cleans_up(tmp_path: Path) -> None:
    (tmp_path / "iris").mkdir()

    with pytest.raises(KeyboardInterrupt), new_version_folder(tmp_path, "iris", 1) as staging:
        (staging / "model.joblib").write_bytes(b"half")
        raise KeyboardInterrupt

    assert every_path(tmp_path) == [tmp_path / "iris"]


def test_failed_first_version_leaves_no_model_folder(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), new_version_folder(tmp_path, "iris", 1) as staging:
        (staging / "model.joblib").write_bytes(b"half")
        raise RuntimeError("upload broke")

    assert scan_repository(tmp_path, artifact_suffixes()) == []
    assert every_path(tmp_path) == []


def test_existing_version_is_refused(tmp_path: Path) -> None:
    existing = tmp_path / "iris" / "1"
    existing.mkdir(parents=True)
    (existing / "model.joblib").write_bytes(b"original")

    with (
        pytest.raises(ConflictError, match=r"model 'iris' version 1 already exists"),
        new_version_folder(tmp_path, "iris", 1),
    ):
        pytest.fail("the body must not run for an existing version")

    assert (existing / "model.joblib").read_bytes() == b"original"
    assert every_path(tmp_path) == [existing.parent, existing, existing / "model.joblib"]


def test_existing_version_written_twice(tmp_path: Path) -> None:
    with new_version_folder(tmp_path, "iris", 1) as staging:
        (staging / "model.joblib").write_bytes(b"first")

    with pytest.raises(ConflictError), new_version_folder(tmp_path, "iris", 1):
        pass

    assert (tmp_path / "iris" / "1" / "model.joblib").read_bytes() == b"first"


def test_version_appearing_during_the_write_is_a_conflict(tmp_path: Path) -> None:
    final = tmp_path / "iris" / "2"
    with pytest.raises(ConflictError), new_version_folder(tmp_path, "iris", 2) as staging:
        (staging / "model.joblib").write_bytes(b"mine")
        final.mkdir()
        (final / "model.joblib").write_bytes(b"theirs")

    # Never an overwrite, and no staging folder left behind.
    assert (final / "model.joblib").read_bytes() == b"theirs"
    assert every_path(tmp_path / "iris") == [final, final / "model.joblib"]


def test_other_versions_are_untouched(tmp_path: Path) -> None:
    with new_version_folder(tmp_path, "iris", 1) as staging:
        (staging / "model.joblib").write_bytes(b"one")
    with new_version_folder(tmp_path, "iris", 2) as staging:
        (staging / "model.joblib").write_bytes(b"two")

    assert (tmp_path / "iris" / "1" / "model.joblib").read_bytes() == b"one"
    assert (tmp_path / "iris" / "2" / "model.joblib").read_bytes() == b"two"


def test_creates_the_model_dir_when_missing(tmp_path: Path) -> None:
    model_dir = tmp_path / "not" / "yet"

    with new_version_folder(model_dir, "iris", 1) as staging:
        (staging / "model.joblib").write_bytes(b"x")

    assert (model_dir / "iris" / "1" / "model.joblib").is_file()


@pytest.mark.parametrize("name", ["Iris", "my model", "../escape", ".hidden", ""])
def test_invalid_name_is_refused_before_touching_the_disk(tmp_path: Path, name: str) -> None:
    with (
        pytest.raises(InvalidRequestError, match="invalid model name"),
        new_version_folder(tmp_path, name, 1),
    ):
        pytest.fail("the body must not run for an invalid name")

    assert every_path(tmp_path) == []


# -- write_file_atomically --------------------------------------------------------------


def test_write_file_creates_the_file_and_its_folders(tmp_path: Path) -> None:
    target = tmp_path / "iris" / "model.yaml"

    write_file_atomically(target, b"description: x\n")

    assert target.read_bytes() == b"description: x\n"
    assert mode_of(target) == 0o644
    assert every_path(tmp_path) == [tmp_path / "iris", target]


def test_write_file_replaces_the_content(tmp_path: Path) -> None:
    target = tmp_path / "model.yaml"
    target.write_bytes(b"old content that is longer than the new one\n")

    write_file_atomically(target, b"new\n")

    assert target.read_bytes() == b"new\n"
    assert [p.name for p in tmp_path.iterdir()] == ["model.yaml"]


def test_write_file_many_times_leaves_no_temporary_files(tmp_path: Path) -> None:
    target = tmp_path / "model.yaml"

    for index in range(5):
        write_file_atomically(target, f"n: {index}\n".encode())

    assert target.read_text() == "n: 4\n"
    assert every_path(tmp_path) == [target]


def test_write_file_empty_data(tmp_path: Path) -> None:
    target = tmp_path / "empty.txt"

    write_file_atomically(target, b"")

    assert target.read_bytes() == b""


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "model.yaml"
    target.write_bytes(b"old\n")

    with pytest.raises(TypeError):
        write_file_atomically(target, "not bytes")  # type: ignore[arg-type]

    assert target.read_bytes() == b"old\n"
    assert every_path(tmp_path) == [target]


# -- a full disk --------------------------------------------------------------------------


def _write_to_a_full_disk() -> None:
    # /dev/full answers every write with ENOSPC, as a full filesystem does.
    with open("/dev/full", "wb") as full:
        full.write(b"x" * 65536)
        full.flush()


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_disk_is_a_507_and_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(StorageFullError) as caught, new_version_folder(tmp_path, "iris", 1):
        _write_to_a_full_disk()
    assert caught.value.status_code == 507
    assert caught.value.code == "insufficient_storage"
    assert "model 'iris' version 1" in caught.value.message
    assert str(tmp_path) not in caught.value.public  # the path is the operator's
    assert every_path(tmp_path) == []


def test_other_os_errors_are_not_called_a_full_disk(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError), disk_full_is_an_error("a file", tmp_path):
        (tmp_path / "missing" / "file").write_bytes(b"x")
