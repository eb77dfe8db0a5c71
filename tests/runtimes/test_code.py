"""Custom code beside a pickle: model.py and model.yaml `code:` are imported first, under
names that never collide, and reachable the ways a pickle refers to them."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from modelport.registry import ServedModel, load_model
from modelport.repository import scan_repository
from modelport.runtimes.base import artifact_suffixes
from modelport.runtimes.code import module_named

#: A model whose answer comes from its module's globals: shows which code it runs.
CONSTANT_CODE = """\
import numpy as np

ANSWER = {answer}


class Constant:
    n_features_in_ = 2

    def predict(self, rows):
        return np.full(len(rows), ANSWER)
"""


def pickle_in_subprocess(script: str, cwd: Path, target: Path) -> None:
    """Run a training script in its own interpreter, as a user would, pickling to target."""
    target.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), str(target)],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(cwd)},
        check=True,
    )


def load(model_dir: Path, name: str) -> ServedModel:
    sources = {s.name: s for s in scan_repository(model_dir, artifact_suffixes())}
    return load_model(sources[name])


def answer_of(model: ServedModel) -> float:
    runtime = model.versions[1].runtime
    assert runtime is not None, model.versions[1].error
    return float(runtime.predict(np.zeros((1, 2)))[0])


def test_class_pickled_from_module_model_loads_beside_its_model_py(tmp_path: Path) -> None:
    train = tmp_path / "train"
    train.mkdir()
    (train / "model.py").write_text(CONSTANT_CODE.format(answer=7.0))
    version = tmp_path / "models" / "seven" / "1"
    pickle_in_subprocess(
        "import pickle, sys, model; pickle.dump(model.Constant(), open(sys.argv[1], 'wb'))",
        train,
        version / "model.pkl",
    )
    (version / "model.py").write_text(CONSTANT_CODE.format(answer=7.0))

    served = load(tmp_path / "models", "seven")

    assert served.state == "ready", served.failure_reason()
    assert answer_of(served) == 7.0
    # The aliases are gone once the artifact is read.
    assert "model" not in sys.modules
    assert not hasattr(sys.modules["__main__"], "Constant")


def test_class_pickled_from_main_loads_with_model_py(tmp_path: Path) -> None:
    """Seed 004: the transformer class was defined in the notebook (module __main__)."""
    version = tmp_path / "models" / "notebook" / "1"
    pickle_in_subprocess(
        f"""
        import pickle, sys
        {textwrap.indent(CONSTANT_CODE.format(answer=4.0), "        ").strip()}
        pickle.dump(Constant(), open(sys.argv[1], "wb"))
        """,
        tmp_path,
        version / "model.pkl",
    )

    without_code = load(tmp_path / "models", "notebook")
    (version / "model.py").write_text(CONSTANT_CODE.format(answer=4.0))
    with_code = load(tmp_path / "models", "notebook")

    error = without_code.versions[1].error
    assert error is not None
    assert "Constant" in error
    assert "put its code in model.py" in error
    assert with_code.state == "ready", with_code.failure_reason()
    assert answer_of(with_code) == 4.0


def test_class_pickled_from_a_package_module_loads_with_model_py(tmp_path: Path) -> None:
    """The pickle names `acme_pipeline.features.Constant`; the code is shipped as model.py."""
    package = tmp_path / "train" / "acme_pipeline"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "features.py").write_text(CONSTANT_CODE.format(answer=3.0))
    version = tmp_path / "models" / "packaged" / "1"
    pickle_in_subprocess(
        "import pickle, sys\n"
        "from acme_pipeline.features import Constant\n"
        "pickle.dump(Constant(), open(sys.argv[1], 'wb'))",
        tmp_path / "train",
        version / "model.pkl",
    )
    (version / "model.py").write_text(CONSTANT_CODE.format(answer=3.0))

    served = load(tmp_path / "models", "packaged")

    assert served.state == "ready", served.failure_reason()
    assert answer_of(served) == 3.0
    assert "acme_pipeline" not in sys.modules


def test_two_models_with_the_same_module_name_do_not_collide(tmp_path: Path) -> None:
    train = tmp_path / "train"
    train.mkdir()
    for name, answer in (("one", 1.0), ("two", 2.0)):
        (train / "model.py").write_text(CONSTANT_CODE.format(answer=answer))
        version = tmp_path / "models" / name / "1"
        pickle_in_subprocess(
            "import pickle, sys, model; pickle.dump(model.Constant(), open(sys.argv[1], 'wb'))",
            train,
            version / "model.pkl",
        )
        (version / "model.py").write_text(CONSTANT_CODE.format(answer=answer))

    one = load(tmp_path / "models", "one")
    two = load(tmp_path / "models", "two")

    assert (answer_of(one), answer_of(two)) == (1.0, 2.0)


def test_model_yaml_code_files_are_imported_by_their_names(tmp_path: Path) -> None:
    train = tmp_path / "train"
    train.mkdir()
    (train / "prep.py").write_text(CONSTANT_CODE.format(answer=5.0))
    version = tmp_path / "models" / "coded" / "1"
    pickle_in_subprocess(
        "import pickle, sys, prep; pickle.dump(prep.Constant(), open(sys.argv[1], 'wb'))",
        train,
        version / "model.pkl",
    )
    (version / "prep.py").write_text(CONSTANT_CODE.format(answer=5.0))

    without = load(tmp_path / "models", "coded")
    (tmp_path / "models" / "coded" / "model.yaml").write_text("code: [prep.py]\n")
    served = load(tmp_path / "models", "coded")

    assert without.versions[1].error is not None
    assert "'prep'" in without.versions[1].error
    assert served.state == "ready", served.failure_reason()
    assert answer_of(served) == 5.0


def test_model_py_that_raises_on_import_fails_the_version(tmp_path: Path) -> None:
    version = tmp_path / "models" / "bad" / "1"
    version.mkdir(parents=True)
    (version / "model.pkl").write_bytes(b"never read")
    (version / "model.py").write_text("import os\n\nraise RuntimeError('no GPU here')\n")

    served = load(tmp_path / "models", "bad")

    assert served.state == "failed"
    assert served.versions[1].error == (
        "model.py failed to import (line 3): RuntimeError: no GPU here"
    )


def test_model_py_with_a_syntax_error_fails_the_version(tmp_path: Path) -> None:
    version = tmp_path / "models" / "bad" / "1"
    version.mkdir(parents=True)
    (version / "model.pkl").write_bytes(b"never read")
    (version / "model.py").write_text("def broken(:\n")

    error = load(tmp_path / "models", "bad").versions[1].error

    assert error is not None
    assert error.startswith("model.py failed to import")
    assert "SyntaxError" in error


def test_pickle_needing_a_name_model_py_lacks(tmp_path: Path) -> None:
    train = tmp_path / "train"
    train.mkdir()
    (train / "model.py").write_text(CONSTANT_CODE.format(answer=1.0))
    version = tmp_path / "models" / "renamed" / "1"
    pickle_in_subprocess(
        "import pickle, sys, model; pickle.dump(model.Constant(), open(sys.argv[1], 'wb'))",
        train,
        version / "model.pkl",
    )
    (version / "model.py").write_text("ANSWER = 1.0\n")

    error = load(tmp_path / "models", "renamed").versions[1].error

    assert error is not None
    assert "custom code (model.py) lacks" in error
    assert "Constant" in error


def test_module_named_is_undone_after_the_block(tmp_path: Path) -> None:
    code = tmp_path / "model.py"
    code.write_text(CONSTANT_CODE.format(answer=9.0))

    with module_named(code, "model") as module:
        assert sys.modules["model"] is module
        assert module.Constant.__module__ == "model"

    assert "model" not in sys.modules


def test_importing_code_writes_nothing_into_the_version_folder(tmp_path: Path) -> None:
    version = tmp_path / "models" / "fn" / "1"
    version.mkdir(parents=True)
    (version / "model.py").write_text("def predict(x):\n    return x\n")

    assert load(tmp_path / "models", "fn").state == "ready"
    assert sorted(p.name for p in version.iterdir()) == ["model.py"]
