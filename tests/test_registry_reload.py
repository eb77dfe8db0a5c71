"""ModelRegistry.reload when files that serve are replaced by broken ones: what served
stays, the model's error says why, and the fixed files replace it."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from modelport.registry import ModelRegistry


def loaded(model_dir: Path) -> ModelRegistry:
    registry = ModelRegistry(model_dir)
    asyncio.run(registry.load_all())
    return registry


def test_a_broken_model_yaml_keeps_the_served_versions_and_says_why(model_dir: Path) -> None:
    registry = loaded(model_dir)
    served = registry.resolve("iris-lr")
    config = model_dir / "iris-lr" / "model.yaml"
    good = config.read_text()
    config.write_text("features: [unclosed\n")

    report = asyncio.run(registry.reload(["iris-lr"]))

    assert "model.yaml" in report["iris-lr"]
    assert registry.resolve("iris-lr") is served
    model = registry.get("iris-lr")
    assert model.public_error is not None
    assert "model.yaml" in model.public_error
    assert "keep serving" in model.public_error
    assert str(model_dir) not in model.public_error

    config.write_text(good.replace("description:", "description: Fixed."))
    assert asyncio.run(registry.reload(["iris-lr"]))["iris-lr"] == "loaded"
    assert registry.get("iris-lr").error is None
    assert registry.get("iris-lr").description.startswith("Fixed.")


def test_a_truncated_served_file_keeps_the_version_loaded_before(
    trained_models: Path, tmp_path: Path
) -> None:
    artifact = trained_models / "iris-lr" / "1" / "model.joblib"
    bare = tmp_path / "lr.joblib"
    shutil.copy(artifact, bare)
    registry = loaded(tmp_path)
    served = registry.resolve("lr")
    bare.write_bytes(artifact.read_bytes()[:100])

    report = asyncio.run(registry.reload(["lr"]))

    assert report["lr"].startswith("version 1:")
    assert registry.resolve("lr") is served
    error = registry.get("lr").public_error
    assert error is not None
    assert error.startswith("version 1:")
    assert "keep serving" in error

    shutil.copy(trained_models / "iris-dt" / "1" / "model.joblib", bare)
    assert asyncio.run(registry.reload(["lr"]))["lr"] == "loaded"
    assert registry.resolve("lr") is not served
    assert registry.get("lr").error is None
