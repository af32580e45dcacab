#!/usr/bin/env bash
# Evaluation on a Slurm cluster through srun, as mmdet's tools/slurm_test.sh:
#   [GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [SRUN_ARGS=...] \
#       bash tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [test.py options...]
# Variables as in tools/slurm_train.sh (GRES= on a CPU partition, PORT, PYTHON).
set -euo pipefail
if [[ $# -lt 4 ]]; then
    echo "usage: bash $0 PARTITION JOB_NAME CONFIG CHECKPOINT [test.py options...]" >&2
    exit 2
fi
source "$(dirname "$0")/slurm_srun.sh"
slurm_srun "$1" "$2" test.py "$3" "$4" --launcher=slurm "${@:5}"
