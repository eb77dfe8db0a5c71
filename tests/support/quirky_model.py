"""A model that misbehaves on request, for the end-to-end tests (imported via PYTHONPATH).

The first value of the first row says what to do: > 0 sleep that many seconds, -1 raise
a RuntimeError (a bug in the model), -2 raise a ValueError (the model refusing the input),
-3 hold the call until the test lets go: the call writes a ``started-*`` file in the
folder named by ``$QUIRKY_HOLD`` and waits (at most a minute) for a ``release`` file there.
It answers the first column back.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
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
        elif command == -3:
            hold(Path(os.environ["QUIRKY_HOLD"]))
        return rows[:, 0]


def hold(folder: Path) -> None:
    """Say that a call started, then wait for the test's ``release`` file."""
    (folder / f"started-{uuid.uuid4().hex}").touch()
    deadline = time.monotonic() + 60
    while not (folder / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.005)
