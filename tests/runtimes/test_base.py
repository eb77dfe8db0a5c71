"""Runtime lookup by file ending or declared kind, and missing-dependency messages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from modelport.errors import MissingDependencyError, ModelLoadError
from modelport.repository import ModelConfig, VersionSource
from modelport.runtimes.base import (
    LoadContext,
    RuntimeSpec,
    artifact_suffixes,
    load_context,
    missing_dependency,
    require,
    runtime_for,
    runtime_kinds,
)


def test_runtime_kinds() -> None:
    assert runtime_kinds() == [
        "sklearn",
        "skops",
        "xgboost",
        "lightgbm",
        "onnx",
        "function",
        "mlflow",
    ]


def test_artifact_suffixes_are_lower_case_with_a_dot() -> None:
    suffixes = artifact_suffixes()

    assert set(suffixes) >= {".joblib", ".pkl", ".pickle", ".model", ".pgz", ".pkl.gz"}
    assert all(s.startswith(".") and s == s.lower() for s in suffixes)


@pytest.mark.parametrize(
    "filename",
    [
        "model.joblib",
        "model.pkl",
        "model.pickle",
        "lr_iris.model",
        "model.pgz",
        "model.pkl.gz",
        "MODEL.JOBLIB",
        "Model.Pkl.Gz",
        "archive.tar.pkl",
    ],
)
def test_runtime_for_by_suffix(filename: str) -> None:
    spec = runtime_for(Path("models") / filename)

    assert isinstance(spec, RuntimeSpec)
    assert spec.kind == "sklearn"


@pytest.mark.parametrize(
    ("filename", "kind"),
    [
        ("model.skops", "skops"),
        ("MODEL.SKOPS", "skops"),
        ("model.ubj", "xgboost"),
        ("model.onnx", "onnx"),
        ("Model.ONNX", "onnx"),
        ("model.py", "function"),
        ("MODEL.PY", "function"),
    ],
)
def test_runtime_for_every_kind(filename: str, kind: str) -> None:
    assert runtime_for(Path("models") / filename).kind == kind


@pytest.mark.parametrize(
    "filename",
    ["model.gz", "model.csv.gz", "model", "model.joblib.bak", "pkl", "model.json", "model.txt"],
)
def test_runtime_for_unknown_suffix(filename: str) -> None:
    with pytest.raises(ModelLoadError) as info:
        runtime_for(Path(filename))

    assert f"no runtime loads '{filename}'" in info.value.message
    assert "known file endings" in info.value.message
    assert "'.joblib'" in info.value.message


def test_declared_kind_wins_over_the_suffix() -> None:
    assert runtime_for(Path("model.bin"), "sklearn").kind == "sklearn"
    assert runtime_for(Path("model.json"), "xgboost").kind == "xgboost"
    assert runtime_for(Path("model.txt"), "lightgbm").kind == "lightgbm"
    assert runtime_for(Path("model.joblib"), "skops").kind == "skops"


@pytest.mark.parametrize("kind", ["tensorflow", "SKLEARN", "", "scikit-learn", "ONNX"])
def test_declared_kind_unknown(kind: str) -> None:
    with pytest.raises(ModelLoadError) as info:
        runtime_for(Path("model.joblib"), kind)

    assert f"model.yaml names runtime '{kind}'" in info.value.message
    assert "'sklearn', 'skops', 'xgboost', 'lightgbm', 'onnx', 'function'" in info.value.message


def test_spec_load_imports_the_loader_lazily(tmp_path: Path) -> None:
    spec = runtime_for(tmp_path / "model.pkl")
    assert spec.loader == "modelport.runtimes.sklearn:load"
    (tmp_path / "model.pkl").write_bytes(b"")

    with pytest.raises(ModelLoadError, match="not a readable pickle/joblib file"):
        spec.load(tmp_path / "model.pkl")


@pytest.mark.parametrize(
    ("module", "top", "extra"),
    [
        ("sklearn", "sklearn", "sklearn"),
        ("sklearn.linear_model._logistic", "sklearn", "sklearn"),
        ("joblib", "joblib", "sklearn"),
        ("pandas.core.frame", "pandas", "pandas"),
        ("scipy.sparse", "scipy", "sklearn"),
        ("xgboost", "xgboost", "xgboost"),
        ("xgboost.sklearn", "xgboost", "xgboost"),
        ("lightgbm", "lightgbm", "lightgbm"),
        ("onnxruntime", "onnxruntime", "onnx"),
        ("skops.io", "skops", "skops"),
    ],
)
def test_missing_dependency_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, module: str, top: str, extra: str
) -> None:
    monkeypatch.setitem(sys.modules, top, None)  # as if the package were not installed
    error = missing_dependency(ModuleNotFoundError(f"No module named '{module}'", name=module))

    assert isinstance(error, MissingDependencyError)
    assert error.module == top
    assert error.extra == extra
    assert f"'{top}'" in error.message
    assert f"pip install 'modelport[{extra}]'" in error.message
    assert error.code == "missing_dependency"


def test_a_module_the_installed_package_lacks_is_a_version_problem() -> None:
    name = "sklearn.linear_model._logistix"
    error = missing_dependency(ModuleNotFoundError(f"No module named '{name}'", name=name))

    assert not isinstance(error, MissingDependencyError)
    assert "the installed 'sklearn' does not have" in error.message
    assert "saved with another version" in error.message


def test_missing_sklearn_message() -> None:
    error = missing_dependency(ModuleNotFoundError("No module named 'sklearn'", name="sklearn"))

    assert "modelport[sklearn]" in error.message


@pytest.mark.parametrize("module", ["acme_models", "acme_models.sub", "xgboostx", "sklearnx"])
def test_missing_unknown_module_is_a_load_error(module: str) -> None:
    error = missing_dependency(ModuleNotFoundError(f"No module named '{module}'", name=module))

    assert type(error) is ModelLoadError
    assert f"the Python module '{module}'" in error.message
    assert "cannot be imported" in error.message


def test_missing_module_without_a_name() -> None:
    error = missing_dependency(ModuleNotFoundError("something went wrong"))

    assert type(error) is ModelLoadError
    assert "cannot be imported" in error.message


# -- require: model libraries are imported only when a model needs them ------------------


def test_require_returns_the_module() -> None:
    assert require("json", "none").__name__ == "json"


@pytest.mark.parametrize(
    ("module", "extra"),
    [
        ("xgboost", "xgboost"),
        ("lightgbm", "lightgbm"),
        ("onnxruntime", "onnx"),
        ("skops.io", "skops"),
    ],
)
def test_require_missing_library_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, module: str, extra: str
) -> None:
    # None in sys.modules makes `import` fail exactly as for an uninstalled package.
    if "." in module:
        monkeypatch.delitem(sys.modules, module, raising=False)
    monkeypatch.setitem(sys.modules, module.partition(".")[0], None)

    with pytest.raises(MissingDependencyError) as info:
        require(module, extra)

    assert f"pip install 'modelport[{extra}]'" in info.value.message
    assert info.value.module == module.partition(".")[0]


def test_require_broken_install_is_a_load_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "brokenlib"
    package.mkdir()
    (package / "__init__.py").write_text("raise ImportError('libbroken.so: cannot open')\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    with pytest.raises(ModelLoadError) as info:
        require("brokenlib", "brokenlib")

    assert "installed but cannot be imported" in info.value.message
    assert "libbroken.so" in info.value.message


# -- load_context ----------------------------------------------------------------------


def test_load_context_lists_code_files_then_model_py(tmp_path: Path) -> None:
    folder = tmp_path / "m" / "1"
    folder.mkdir(parents=True)
    for name in ("model.joblib", "model.py", "prep.py", "util.py"):
        (folder / name).write_text("")
    source = VersionSource(1, folder / "model.joblib", folder, code=(folder / "model.py",))
    config = ModelConfig(code=["util.py", "prep.py"], trusted_types=["acme.Model"])

    context = load_context(source, config)

    assert context == LoadContext(
        code_files=(folder / "util.py", folder / "prep.py", folder / "model.py"),
        trusted_types=("acme.Model",),
    )


def test_load_context_missing_code_file(tmp_path: Path) -> None:
    source = VersionSource(1, tmp_path / "model.joblib", tmp_path)

    with pytest.raises(ModelLoadError) as info:
        load_context(source, ModelConfig(code=["prep.py"]))

    assert "model.yaml code: 'prep.py' is not a file" in info.value.message


def test_load_context_model_py_listed_twice_is_imported_once(tmp_path: Path) -> None:
    (tmp_path / "model.py").write_text("")
    source = VersionSource(1, tmp_path / "model.pkl", tmp_path, code=(tmp_path / "model.py",))

    context = load_context(source, ModelConfig(code=["model.py"]))

    assert context.code_files == (tmp_path / "model.py",)


def test_no_model_library_is_imported_until_a_model_needs_it() -> None:
    code = (
        "import sys\n"
        "import modelport.registry, modelport.train_examples\n"
        "from modelport.runtimes import function, lightgbm, onnx, skops, sklearn, xgboost\n"
        "libraries = ('xgboost', 'lightgbm', 'onnxruntime', 'skops', 'sklearn', 'pandas',\n"
        "             'joblib', 'skl2onnx')\n"
        "print(sorted(m for m in libraries if m in sys.modules))\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("entry", ["/etc/hostname", "../../outside.py", "../1/../../x.py", "."])
def test_load_context_refuses_code_outside_the_version_folder(tmp_path: Path, entry: str) -> None:
    folder = tmp_path / "models" / "m" / "1"
    folder.mkdir(parents=True)
    (tmp_path / "models" / "outside.py").write_text("")
    source = VersionSource(1, folder / "model.joblib", folder)

    with pytest.raises(ModelLoadError) as info:
        load_context(source, ModelConfig(code=[entry]))

    assert f"model.yaml code: '{entry}' is outside the version folder 1/" in info.value.message


def test_load_context_refuses_a_symlink_pointing_out(tmp_path: Path) -> None:
    folder = tmp_path / "m" / "1"
    folder.mkdir(parents=True)
    (tmp_path / "elsewhere.py").write_text("")
    (folder / "prep.py").symlink_to(tmp_path / "elsewhere.py")
    source = VersionSource(1, folder / "model.joblib", folder)

    with pytest.raises(ModelLoadError) as info:
        load_context(source, ModelConfig(code=["prep.py"]))

    assert "'prep.py' is outside the version folder" in info.value.message


def test_load_context_takes_a_subfolder_and_a_symlink_inside_once(tmp_path: Path) -> None:
    folder = tmp_path / "m" / "1"
    (folder / "lib").mkdir(parents=True)
    (folder / "lib" / "prep.py").write_text("")
    (folder / "alias.py").symlink_to(folder / "lib" / "prep.py")
    source = VersionSource(1, folder / "model.joblib", folder)

    context = load_context(source, ModelConfig(code=["lib/prep.py", "alias.py"]))

    assert context.code_files == ((folder / "lib" / "prep.py").resolve(),)  # once
