#!/usr/bin/env bash
# The main job on a fresh machine: install the stack, generate the embedded long-tailed data,
# then train + test the demo classifier and the demo Mask R-CNN. Results tables are printed at
# the end of each test step and logged under work_dirs/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash tools/install.sh
PY="${LTR_VENV:-$ROOT/.venv}/bin/python"

run() {  # run CONFIG WORK_DIR: train, then test the last checkpoint
    "$PY" tools/train.py "$1" --work-dir "$2"
    "$PY" tools/test.py "$1" "$(cat "$2/last_checkpoint")" --work-dir "$2"
}
run configs/baselines/demo/convnet_1xb64-30e_demo-cls.py work_dirs/demo_cls
run configs/baselines/demo/mask-rcnn_r18_fpn_sample1e-3_1xb8-6e_demo-lvis.py work_dirs/demo_det
