#!/usr/bin/env bash
# Training on a Slurm cluster through srun, as mmdet's tools/slurm_train.sh:
#   [GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [SRUN_ARGS=...] \
#       bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py options...]
# GPUS=16 GPUS_PER_NODE=8: two nodes. GRES= on a CPU partition (each task trains on the CPU
# with gloo); PORT: rendezvous port (give jobs sharing a node their own); see slurm_srun.sh.
set -euo pipefail
if [[ $# -lt 4 ]]; then
    echo "usage: bash $0 PARTITION JOB_NAME CONFIG WORK_DIR [train.py options...]" >&2
    exit 2
fi
source "$(dirname "$0")/slurm_srun.sh"
slurm_srun "$1" "$2" train.py "$3" --work-dir="$4" --launcher=slurm "${@:5}"
