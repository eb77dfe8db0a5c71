"""Train the original app's diabetes model into this folder (paths relative to this script).

    python examples/flask-diabetes/train.py      # from any working directory
    modelport serve examples/flask-diabetes

An XGBoost classifier on the Pima columns, saved in XGBoost's own format
(diabetes/1/model.ubj). The real Pima data cannot be shipped: the table is synthesized
with the same columns and a fixed random seed (modelport.example_data.diabetes_table).
"""

from __future__ import annotations

from pathlib import Path

from modelport.repository import new_version_folder
from modelport.train_examples import EXAMPLES

HERE = Path(__file__).resolve().parent


def main() -> None:
    if (HERE / "diabetes" / "1").exists():
        print(f"diabetes is already trained; delete {HERE / 'diabetes' / '1'} to train again")
        return
    with new_version_folder(HERE, "diabetes", 1) as folder:
        EXAMPLES["diabetes-xgb"].write(folder)
    print(f"wrote {HERE / 'diabetes' / '1' / 'model.ubj'}")


if __name__ == "__main__":
    main()
