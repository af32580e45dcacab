#!/usr/bin/env bash
# Install the stack (idempotent), check the style (tools/lint.sh) and run the test suite. Extra arguments go to pytest.
# The tests run in parallel workers (pytest-xdist): one per core, at most 4 (each holds the whole
# stack in memory), a test file's tests on one worker (--dist loadfile: its module fixtures are
# made once); LTR_TEST_WORKERS=N sets the count, 1 runs them in this process. Idle OpenMP threads
# wait passively (OMP_WAIT_POLICY=PASSIVE unless set, as benchmark_lt --jobs), so the workers'
# torch threads do not spin on each other's cores; it changes no number, only the waiting.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash tools/install.sh
bash tools/lint.sh
CORES="$(nproc)"
WORKERS="${LTR_TEST_WORKERS:-$(( CORES < 4 ? CORES : 4 ))}"
if [[ "$WORKERS" -gt 1 ]]; then
    PARALLEL=(-n "$WORKERS" --dist loadfile)
    export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
else
    PARALLEL=(-p no:xdist)
fi
set +e
"${LTR_VENV:-$ROOT/.venv}/bin/python" -m pytest tests "${PARALLEL[@]}" "$@"
rc=$?
set -e
if [[ $rc -eq 5 ]]; then  # pytest: no tests collected
    echo "run_tests: pytest collected no tests"; exit 0
fi
exit $rc
