"""Train the original app's loan model into this folder (paths relative to this script).

    python examples/flask-loan/train.py      # from any working directory
    modelport serve examples/flask-loan

A Pipeline of the original app's custom PreProcessing (loan/1/model.py, imported by modelport
before the pickle) and a random forest, answering 1 (loan approved) or 0, as the original app's
model did after y.replace({'Y': 1, 'N': 0}). The original app's training.csv cannot be shipped:
the table is synthesized with its columns (modelport.example_data.loan_table).
"""

from __future__ import annotations

from pathlib import Path

import joblib
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import make_pipeline

from modelport.example_data import LOAN_CODE, loan_table
from modelport.repository import new_version_folder
from modelport.runtimes.code import module_named

HERE = Path(__file__).resolve().parent


def main() -> None:
    if (HERE / "loan" / "1").exists():
        print(f"loan is already trained; delete {HERE / 'loan' / '1'} to train it again")
        return
    table, status = loan_table()
    approved = (status == "Y").astype(int)
    with new_version_folder(HERE, "loan", 1) as folder:
        code = folder / "model.py"
        code.write_text(LOAN_CODE, encoding="utf-8")
        # Imported as `model`, as `from model import PreProcessing` in a training script
        # would: the pickle names model.PreProcessing, which modelport finds beside it.
        with module_named(code, "model") as module:
            pipeline = make_pipeline(
                module.PreProcessing(),
                RandomForestClassifier(n_estimators=30, max_depth=6, random_state=0, n_jobs=1),
            )
            joblib.dump(pipeline.fit(table, approved), folder / "model.joblib")
    print(f"wrote {HERE / 'loan' / '1' / 'model.joblib'}")


if __name__ == "__main__":
    main()
