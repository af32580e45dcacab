#!/usr/bin/env bash
# Training on a Slurm cluster through srun, as mmdet's tools/slurm_train.sh:
#   [GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [SRUN_ARGS=...] \
#       bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py options...]
# GPUS: tasks (processes) in all, GPUS_PER_NODE: tasks per node (GPUS=16 GPUS_PER_NODE=8:
# two nodes). GRES: the generic resource line (default gpu:$GPUS_PER_NODE; GRES= on a CPU
# partition, where each task trains on the CPU with gloo). PORT: the rendezvous port
# (default 29500; give each job sharing a node its own). PYTHON: the interpreter (python).
set -euo pipefail
if [[ $# -lt 4 ]]; then
    echo "usage: bash $0 PARTITION JOB_NAME CONFIG WORK_DIR [train.py options...]" >&2
    exit 2
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
WORK_DIR=$4
shift 4
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
GRES=${GRES-gpu:$GPUS_PER_NODE}
read -r -a EXTRA_SRUN_ARGS <<<"${SRUN_ARGS:-}"
PYTHONPATH="$(dirname "$0")/..${PYTHONPATH:+:$PYTHONPATH}" MASTER_PORT="${PORT:-29500}" \
exec srun -p "$PARTITION" \
    --job-name="$JOB_NAME" \
    ${GRES:+--gres="$GRES"} \
    --ntasks="$GPUS" \
    --ntasks-per-node="$GPUS_PER_NODE" \
    --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 \
    "${EXTRA_SRUN_ARGS[@]}" \
    "${PYTHON:-python}" -u "$(dirname "$0")/train.py" "$CONFIG" --work-dir="$WORK_DIR" \
    --launcher=slurm "$@"
