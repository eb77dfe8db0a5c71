"""A model whose predict sleeps for the number of seconds in its first input value.

Used by the end-to-end timeout tests; the server imports it through PYTHONPATH.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np


class SlowModel:
    n_features_in_ = 2

    def predict(self, batch: Any) -> Any:
        rows = np.asarray(batch, dtype=float)
        delay = float(rows[0][0])
        if delay > 0:
            time.sleep(delay)
        return rows[:, 0]
