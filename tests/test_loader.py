"""The public text of a load failure: MODEL_DIR-relative paths, nothing else absolute."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelport.loader import HIDDEN_PATH, public_text

ROOT = Path("/srv/modelport/models")


@pytest.mark.parametrize(
    ("text", "public"),
    [
        (
            "Load model from /srv/modelport/models/x/1/model.onnx failed:Protobuf parsing failed.",
            "Load model from x/1/model.onnx failed:Protobuf parsing failed.",
        ),
        (
            "[Errno 13] Permission denied: '/home/alice/.config/secret.cfg'",
            f"[Errno 13] Permission denied: '{HIDDEN_PATH}'",
        ),
        ("cannot read ~/models/x.yaml", f"cannot read {HIDDEN_PATH}"),
        ('File "/usr/lib/python3/x.py", line 3', f'File "{HIDDEN_PATH}", line 3'),
        ("error:/etc/passwd", f"error:{HIDDEN_PATH}"),
        # Left as they are: relative paths, ratios, URLs, MODEL_DIR itself as a word.
        ("no version folders: put the artifact in iris/1/", None),
        ("expected 1/2 of features/columns", None),
        ("see https://example.com/docs/models", None),
        ("model.yaml: labels has no entry for classes [2]", None),
    ],
)
def test_public_text(text: str, public: str | None) -> None:
    assert public_text(text, ROOT) == (text if public is None else public)


def test_a_relative_model_dir_is_stripped_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    text = f"Load model from models/x/1/m.onnx or {tmp_path}/models/x/1/m.onnx failed"
    assert public_text(text, Path("models")) == "Load model from x/1/m.onnx or x/1/m.onnx failed"


def test_a_symlinked_model_dir_is_stripped_by_either_name(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    text = f"cannot read {tmp_path}/real/x/1/model.joblib"
    assert public_text(text, tmp_path / "link") == "cannot read x/1/model.joblib"
