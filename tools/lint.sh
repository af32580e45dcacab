#!/usr/bin/env bash
# Style checks of .pre-commit-config.yaml (flake8 + isort) on every tracked file.
#   bash tools/lint.sh            # check (what CI runs, via tools/run_tests.sh)
#   .venv/bin/pre-commit install  # or run the same checks on every `git commit`
# Fix import order with `.venv/bin/python -m isort ltr_plugins tools tests configs examples`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${LTR_VENV:-$ROOT/.venv}"
if [[ ! -x "$VENV/bin/pre-commit" ]]; then
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check 'pre-commit==4.6.2'
fi
"$VENV/bin/pre-commit" run --all-files --show-diff-on-failure
