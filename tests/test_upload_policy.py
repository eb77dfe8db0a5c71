"""Which uploads run code, and their refusal while allow_pickle_uploads is off."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelport.config import Settings
from modelport.errors import ForbiddenError
from modelport.repository.model_yaml import ModelConfig
from modelport.upload_policy import check_upload_runs_no_code


def settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(model_dir=tmp_path, **values)  # type: ignore[arg-type]


def check(
    tmp_path: Path,
    config: ModelConfig,
    *,
    kind: str = "skops",
    files: tuple[str, ...] = (),
    yaml_uploaded: bool = True,
    **values: object,
) -> None:
    check_upload_runs_no_code(
        "model.skops", kind, files, config, yaml_uploaded, settings(tmp_path, **values)
    )


def test_the_operators_types_are_the_ceiling(tmp_path: Path) -> None:
    allowed = "acme.A,acme.B"  # as on the command line
    check(tmp_path, ModelConfig(trusted_types=["acme.B"]), upload_trusted_types=allowed)
    config = ModelConfig(trusted_types=["acme.A", "posix.system"])
    with pytest.raises(ForbiddenError) as info:
        check(tmp_path, config, upload_trusted_types=allowed)
    assert "['posix.system']" in info.value.message
    assert "upload_trusted_types; allowed now: acme.A, acme.B" in info.value.message


def test_without_a_list_no_type_may_be_trusted(tmp_path: Path) -> None:
    with pytest.raises(ForbiddenError, match="allowed now: none"):
        check(tmp_path, ModelConfig(trusted_types=["acme.A"]))


def test_the_model_folders_own_model_yaml_is_the_operators(tmp_path: Path) -> None:
    check(tmp_path, ModelConfig(trusted_types=["acme.A"]), yaml_uploaded=False)
    with pytest.raises(ForbiddenError, match=r"the model's model\.yaml lists code:"):
        check(tmp_path, ModelConfig(code=["prep.py"]), yaml_uploaded=False)


@pytest.mark.parametrize(
    ("config", "kind", "files"),
    [
        (ModelConfig(), "sklearn", ()),
        (ModelConfig(), "function", ()),
        (ModelConfig(), "skops", ("model.py",)),
        (ModelConfig(), "skops", ("Helper.PY",)),
        (ModelConfig(code=["notes.txt"]), "skops", ()),
    ],
)
def test_code_is_refused_naming_the_setting(
    tmp_path: Path, config: ModelConfig, kind: str, files: tuple[str, ...]
) -> None:
    with pytest.raises(ForbiddenError, match=r"\(allow_pickle_uploads = false;"):
        check(tmp_path, config, kind=kind, files=files)


def test_everything_goes_when_the_operator_allows_code(tmp_path: Path) -> None:
    config = ModelConfig(code=["prep.py"], trusted_types=["posix.system"])
    check(tmp_path, config, kind="sklearn", files=("prep.py",), allow_pickle_uploads=True)


def test_plain_skops_onnx_and_notes_pass(tmp_path: Path) -> None:
    check(tmp_path, ModelConfig(), files=("README.md", "labels.txt"))
    check(tmp_path, ModelConfig(), kind="onnx")
