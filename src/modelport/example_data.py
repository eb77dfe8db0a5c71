"""Data and code for the example models: synthetic tables with well-known data sets' columns.

The real Pima diabetes and loan-prediction data sets cannot be shipped, so tables with
the same columns are drawn from a fixed random seed with plausible distributions and a clear
signal (glucose and BMI for diabetes; credit history and repayment burden for loans).
"""

from __future__ import annotations

from typing import Any

from modelport.types import FeatureType

__all__ = [
    "COMPUTE_CODE",
    "DIABETES_FEATURES",
    "IRIS_FEATURES",
    "LOAN_CODE",
    "LOAN_FEATURE_TYPES",
    "diabetes_table",
    "loan_table",
]

IRIS_FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]

#: The Pima diabetes data set's column names, in its order.
DIABETES_FEATURES = [
    "times_pregnant",
    "glucose",
    "blood_pressure",
    "skin_fold_thick",
    "serum_insuling",
    "mass_index",
    "diabetes_pedigree",
    "age",
]

#: The loan-prediction data set's 11 predictor columns and how a request carries them.
LOAN_FEATURE_TYPES: dict[str, FeatureType] = {
    "Gender": "str",
    "Married": "str",
    "Dependents": "str",
    "Education": "str",
    "Self_Employed": "str",
    "ApplicantIncome": "float",
    "CoapplicantIncome": "float",
    "LoanAmount": "float",
    "Loan_Amount_Term": "float",
    "Credit_History": "float",
    "Property_Area": "str",
}

#: loan-rf's model.py: a PreProcessing transformer (as in examples/flask-loan), filling from
#: training statistics and
#: refusing unknown categories by name instead of passing them on as NaN.
LOAN_CODE = '''\
"""Preprocessing for the loan-rf example: a custom scikit-learn transformer.

Fills missing values with what training saw most (categories) or the median (numbers),
then encodes the categorical columns as numbers. Loaded by modelport before the pickle.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

FEATURES = [
    "Gender", "Married", "Dependents", "Education", "Self_Employed", "ApplicantIncome",
    "CoapplicantIncome", "LoanAmount", "Loan_Amount_Term", "Credit_History", "Property_Area",
]
CATEGORIES = {
    "Gender": ["Female", "Male"],
    "Married": ["No", "Yes"],
    "Dependents": ["0", "1", "2", "3+"],
    "Education": ["Graduate", "Not Graduate"],
    "Self_Employed": ["No", "Yes"],
    "Property_Area": ["Rural", "Semiurban", "Urban"],
}


class PreProcessing(BaseEstimator, TransformerMixin):
    """Fill missing values, encode categories; rows come as a DataFrame of FEATURES."""

    def fit(self, df, y=None):
        frame = pd.DataFrame(df, columns=FEATURES)
        self.fill_ = {
            column: frame[column].mode().iloc[0]
            if column in CATEGORIES
            else float(frame[column].median())
            for column in FEATURES
        }
        return self

    def transform(self, df):
        frame = pd.DataFrame(df, columns=FEATURES)
        out = np.empty((len(frame), len(FEATURES)))
        for j, column in enumerate(FEATURES):
            values = [self.fill_[column] if pd.isna(v) else v for v in frame[column]]
            if column in CATEGORIES:
                codes = {name: code for code, name in enumerate(CATEGORIES[column])}
                unknown = sorted({str(v) for v in values if v not in codes})
                if unknown:
                    raise ValueError(
                        f"{column}: unknown value(s) {unknown}; expected one of "
                        f"{CATEGORIES[column]}"
                    )
                out[:, j] = [codes[v] for v in values]
            else:
                out[:, j] = np.asarray(values, dtype=float)
        return out
'''

#: compute's model.py: /compute (a, b, ctype) of examples/simple-restful-ml as a function model.
COMPUTE_CODE = '''\
"""Arithmetic as a function model: ctype 0..3 = a+b, a-b, a*b, a/b."""


def predict(a: float, b: float, ctype: int) -> float:
    if ctype == 0:
        return a + b
    if ctype == 1:
        return a - b
    if ctype == 2:
        return a * b
    if ctype == 3:
        if b == 0:
            raise ValueError("cannot divide by zero: b is 0 with ctype 3 (a / b)")
        return a / b
    raise ValueError(f"ctype must be 0 (a+b), 1 (a-b), 2 (a*b) or 3 (a/b), got {ctype}")
'''


def diabetes_table(rows: int = 768, seed: int = 1) -> tuple[Any, Any]:
    """A Pima-like table (the Pima data set's columns) and its 0/1 outcome."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    table = pd.DataFrame(
        {
            "times_pregnant": np.clip(rng.poisson(3.8, rows), 0, 17).astype(float),
            "glucose": np.clip(rng.normal(121, 30, rows), 44, 199).round(),
            "blood_pressure": np.clip(rng.normal(69, 12, rows), 24, 122).round(),
            "skin_fold_thick": np.clip(rng.normal(29, 10, rows), 7, 99).round(),
            "serum_insuling": np.clip(rng.lognormal(4.8, 0.6, rows), 14, 846).round(),
            "mass_index": np.clip(rng.normal(32, 7, rows), 18, 67).round(1),
            "diabetes_pedigree": np.clip(rng.lognormal(-0.9, 0.6, rows), 0.08, 2.42).round(3),
            "age": np.clip(21 + rng.gamma(2.0, 6.0, rows), 21, 81).round(),
        },
        columns=DIABETES_FEATURES,
    )
    logit = (
        -8.4
        + 0.035 * table["glucose"]
        + 0.09 * table["mass_index"]
        + 0.9 * table["diabetes_pedigree"]
        + 0.015 * table["age"]
        + 0.12 * table["times_pregnant"]
    )
    outcome = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return table, outcome


def loan_table(rows: int = 614, seed: int = 4) -> tuple[Any, Any]:
    """A loan-application table (11 columns, with missing values) and Y/N."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)

    def pick(values: list[Any], weights: list[float]) -> Any:
        return rng.choice(np.array(values, dtype=object), size=rows, p=weights)

    income = rng.lognormal(8.35, 0.55, rows).round()
    co_income = np.where(rng.random(rows) < 0.45, 0.0, rng.lognormal(7.4, 0.7, rows).round())
    term = pick([360.0, 180.0, 480.0, 300.0, 120.0], [0.85, 0.07, 0.03, 0.03, 0.02])
    amount = np.clip((income + co_income) * rng.uniform(0.015, 0.035, rows), 9, 700).round()
    table = pd.DataFrame(
        {
            "Gender": pick(["Male", "Female"], [0.8, 0.2]),
            "Married": pick(["Yes", "No"], [0.65, 0.35]),
            "Dependents": pick(["0", "1", "2", "3+"], [0.57, 0.17, 0.16, 0.10]),
            "Education": pick(["Graduate", "Not Graduate"], [0.78, 0.22]),
            "Self_Employed": pick(["No", "Yes"], [0.86, 0.14]),
            "ApplicantIncome": income,
            "CoapplicantIncome": co_income,
            "LoanAmount": amount,
            "Loan_Amount_Term": term.astype(float),
            "Credit_History": np.where(rng.random(rows) < 0.85, 1.0, 0.0),
            "Property_Area": pick(["Semiurban", "Urban", "Rural"], [0.38, 0.33, 0.29]),
        }
    )
    burden = table["LoanAmount"] * 1000 / table["Loan_Amount_Term"] / (income + co_income)
    logit = (
        -1.2
        + 3.5 * table["Credit_History"]
        + 0.5 * (table["Property_Area"] == "Semiurban")
        + 0.3 * (table["Married"] == "Yes")
        - 4.0 * (burden - 0.15)
    )
    status = np.where(rng.random(rows) < 1 / (1 + np.exp(-logit)), "Y", "N")
    # Blank out a few values per column, as in the public data set (its counts of nulls).
    for column, share in {
        "Gender": 0.02,
        "Married": 0.01,
        "Dependents": 0.025,
        "Self_Employed": 0.05,
        "LoanAmount": 0.035,
        "Loan_Amount_Term": 0.025,
        "Credit_History": 0.08,
    }.items():
        blank = rng.random(rows) < share
        table[column] = table[column].astype(object).where(~blank, None)
        if LOAN_FEATURE_TYPES[column] == "float":
            table[column] = table[column].astype("float64")
    return table, status
