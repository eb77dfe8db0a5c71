"""Lint or render the Helm chart offline with the Helm SDK (helm-python-sdk).

Run by the tests with build/deploy-venv's Python, not the project's: the request is a JSON
list on standard input, ``["lint", chart, values]`` or ``["render", chart, values, name,
namespace]``, and the answer is JSON on standard output (lint: the report; render:
template path -> manifest text). A Helm error exits 1 with its message; exit 3 means the
SDK is not installed.
"""

from __future__ import annotations

import importlib
import json
import sys
from typing import Any


def main() -> int:
    try:
        helm: Any = importlib.import_module("helm_python")
    except ImportError:
        return 3
    request = json.load(sys.stdin)
    action, chart = request[0], request[1]
    values = request[2] if len(request) > 2 else None
    try:
        if action == "lint":
            answer = helm.lint(chart, values, strict=True)
        else:
            with helm.Chart.load(chart) as loaded:
                answer = loaded.render(
                    values=values, name=request[3], namespace=request[4], is_install=True
                )
    except helm.HelmError as exc:
        sys.stderr.write(f"{type(exc).__name__}: {exc}\n")
        return 1
    json.dump(answer, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
