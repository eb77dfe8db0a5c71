#!/usr/bin/env bash
# The unit tests and an end-to-end smoke run under another supported Python, in a venv of
# its own under build/ (the full suite runs under the main one: make test).
#   tools/other_pythons.sh EXTRAS UNIT_MARKERS 3.12 [3.13 ...]
set -euo pipefail
cd "$(dirname "$0")/.."
extras=$1; unit_markers=$2; shift 2
# The end-to-end files that cover every protocol against the real server.
smoke=(tests/e2e/test_server.py tests/e2e/test_predict.py tests/e2e/test_v2_rest.py
       tests/e2e/test_v2_grpc.py tests/e2e/test_mlflow.py)
for version in "$@"; do
  # pyenv's own build first (its shim fails unless that version is selected), then PATH.
  python=$(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$version"*/bin/"python$version" 2>/dev/null | tail -1 || true)
  if [ -z "$python" ] || ! "$python" --version >/dev/null 2>&1; then
    python=$(command -v "python$version" || true)
  fi
  if [ -z "$python" ] || ! "$python" --version >/dev/null 2>&1; then
    echo "python$version: not found (on PATH or under pyenv)" >&2
    exit 1
  fi
  venv=build/python$version
  echo "== Python $version ($python) in $venv"
  test -x "$venv/bin/python" || "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade 'pip>=25.1'
  "$venv/bin/python" -m pip install --quiet -c requirements.lock -e ".[$extras]" --group dev
  "$venv/bin/pytest" -q -p no:cacheprovider -m "$unit_markers"
  "$venv/bin/pytest" -q -p no:cacheprovider "${smoke[@]}"
done
