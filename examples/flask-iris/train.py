"""Train the original app's XGBoost iris classifier into this folder (paths relative to
this script).

    python examples/flask-iris/train.py      # from any working directory
    modelport serve examples/flask-iris

Written as the original app shipped it: a gzip-compressed pickle, xgboost-iris/1/model.pgz.
Its model.yaml names no labels, so predictions are the class indexes 0, 1, 2.
"""

from __future__ import annotations

from pathlib import Path

from modelport.repository import new_version_folder
from modelport.train_examples import EXAMPLES

HERE = Path(__file__).resolve().parent


def main() -> None:
    if (HERE / "xgboost-iris" / "1").exists():
        print(f"xgboost-iris is already trained; delete {HERE / 'xgboost-iris' / '1'} to retrain")
        return
    with new_version_folder(HERE, "xgboost-iris", 1) as folder:
        EXAMPLES["iris-xgb"].write(folder)
    print(f"wrote {HERE / 'xgboost-iris' / '1' / 'model.pgz'}")


if __name__ == "__main__":
    main()
