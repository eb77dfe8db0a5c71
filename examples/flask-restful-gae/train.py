"""The original XXXModel needs no training: it is plain Python (xxxmodel/1/model.py).

    python examples/flask-restful-gae/train.py      # from any working directory
    modelport serve examples/flask-restful-gae

This script only checks that the model answers, so every example starts the same way.
"""

from __future__ import annotations

from pathlib import Path

from modelport.runtimes.code import import_code_file

HERE = Path(__file__).resolve().parent


def main() -> None:
    model = import_code_file(HERE / "xxxmodel" / "1" / "model.py")
    if model.predict(name="Leo") != "Hello, Leo!":
        raise SystemExit("xxxmodel/1/model.py does not greet as it should")
    print(f"{HERE / 'xxxmodel'} is ready (a Python function model; nothing to train)")


if __name__ == "__main__":
    main()
