"""A model that misbehaves on request, for the end-to-end tests (imported via PYTHONPATH).

The first value of the first row says what to do: > 0 sleep that many seconds, -1 raise
a RuntimeError (a bug in the model), -2 raise a ValueError (the model refusing the input).
It answers the first column back.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np


class QuirkyModel:
    n_features_in_ = 2

    def predict(self, batch: Any) -> Any:
        rows = np.asarray(batch, dtype=float)
        command = float(rows[0][0])
        if command > 0:
            time.sleep(command)
        elif command == -1:
            raise RuntimeError("the model broke")
        elif command == -2:
            raise ValueError("this model takes no -2")
        return rows[:, 0]
