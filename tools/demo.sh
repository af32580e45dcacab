#!/usr/bin/env bash
# The main job on a fresh machine: install the stack, then `ltr-demo` (ltr_plugins.tools.demo):
# generate the embedded long-tailed data, train + test the demo classifier and the demo
# Mask R-CNN. Results tables are printed at the end of each test step and logged under
# work_dirs/demo_cls and work_dirs/demo_det. Arguments go to ltr-demo (e.g. --tasks cls).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash tools/install.sh
PY="${LTR_VENV:-$ROOT/.venv}/bin/python"
"$PY" -m ltr_plugins.tools.demo "$@"
