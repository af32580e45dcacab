#!/usr/bin/env bash
# GPU install check: mmcv's CUDA ops, then a few fp16 training iterations and one test pass of
# every LVIS v1 / ImageNet-LT config on generated data of the real size and class count, with
# s/iter, peak memory and the ratio to the stock config (docs/benchmarks/gpu_check.md).
#   bash tools/gpu_check.sh [--configs CONFIG ...] [--out report.md]
#   bash tools/gpu_check.sh --device cpu --tiny        # CPU fallback, tiny sizes
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON=${PYTHON:-python}
cd "$ROOT"
PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" exec "$PYTHON" -m ltr_plugins.benchmarking.gpu_check "$@"
