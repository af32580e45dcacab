#!/usr/bin/env bash
# Install the stack (idempotent), check the style (tools/lint.sh) and run the test suite. Extra arguments go to pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash tools/install.sh
bash tools/lint.sh
set +e
"${LTR_VENV:-$ROOT/.venv}/bin/python" -m pytest tests "$@"
rc=$?
set -e
if [[ $rc -eq 5 ]]; then  # pytest: no tests collected
    echo "run_tests: pytest collected no tests"; exit 0
fi
exit $rc
