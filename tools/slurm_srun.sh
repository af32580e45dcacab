# srun line shared by tools/slurm_train.sh and tools/slurm_test.sh (sourced), as mmdet's:
#   slurm_srun PARTITION JOB_NAME TOOL [TOOL ARGS...]    TOOL: train.py or test.py
# GPUS: tasks (processes) in all, GPUS_PER_NODE: tasks per node, CPUS_PER_TASK, SRUN_ARGS,
# GRES (default gpu:$GPUS_PER_NODE; empty: no --gres line, for a CPU partition), PORT (the
# rendezvous port, default 29500), PYTHON (default python).
slurm_srun() {
    local partition=$1 job_name=$2 tool=$3 tools_dir extra_args
    shift 3
    tools_dir="$(dirname "${BASH_SOURCE[0]}")"
    local gpus=${GPUS:-8} gpus_per_node=${GPUS_PER_NODE:-8} cpus_per_task=${CPUS_PER_TASK:-5}
    local gres=${GRES-gpu:${GPUS_PER_NODE:-8}}
    read -r -a extra_args <<<"${SRUN_ARGS:-}"
    PYTHONPATH="$tools_dir/..${PYTHONPATH:+:$PYTHONPATH}" MASTER_PORT="${PORT:-29500}" \
    exec srun -p "$partition" \
        --job-name="$job_name" \
        ${gres:+--gres="$gres"} \
        --ntasks="$gpus" \
        --ntasks-per-node="$gpus_per_node" \
        --cpus-per-task="$cpus_per_task" \
        --kill-on-bad-exit=1 \
        "${extra_args[@]}" \
        "${PYTHON:-python}" -u "$tools_dir/$tool" "$@"
}
