#!/usr/bin/env bash
# Multi-process training with torchrun (PyTorch DDP through mmengine; gloo on CPU).
#   bash tools/dist_train.sh CONFIG NUM_PROCS [train.py options...]
# NNODES, NODE_RANK, MASTER_ADDR and PORT are honoured as in mmdet's script.
set -euo pipefail
CONFIG=$1
NPROC=$2
shift 2
PYTHON=${PYTHON:-python}
exec "$PYTHON" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" --master_port="${PORT:-29500}" \
    --nproc_per_node="$NPROC" \
    "$(dirname "$0")/train.py" "$CONFIG" --launcher pytorch "$@"
