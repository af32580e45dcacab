"""Launchers as mmdet's: ``--launcher {none,pytorch,slurm,mpi}``, tools/slurm_*.sh through a
stand-in ``srun`` (records its arguments, runs the tasks on this machine), torchrun as two
one-process "nodes" on localhost, and mpi through Open MPI's variables; gloo on CPU."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from ltr_testing import REPO, free_port, run_launch

CLS_CFG = 'tests/configs/convnet_tiny.py'
ONE_EPOCH = ['--cfg-options', 'train_cfg.max_epochs=1']

# srun stand-in: one argument a line into $SRUN_LOG; then, unless SRUN_DRY is set, the
# command once per task (--ntasks) with Slurm's variables, as srun on a single node
SRUN = r'''#!/bin/bash
printf '%s\n' "$@" > "$SRUN_LOG"
ntasks=1
while [[ $# -gt 0 && $1 == -* ]]; do
    case $1 in
        -p|--partition) shift 2 ;;
        --ntasks=*) ntasks=${1#*=}; shift ;;
        *) shift ;;
    esac
done
[[ -n "$SRUN_DRY" ]] && exit 0
pids=()
for ((i = 0; i < ntasks; i++)); do
    SLURM_PROCID=$i SLURM_LOCALID=$i SLURM_NTASKS=$ntasks SLURM_NODELIST='node[01]' "$@" &
    pids+=($!)
done
rc=0
for pid in "${pids[@]}"; do wait "$pid" || rc=$?; done
exit $rc
'''
# scontrol stand-in: the node list expands to this machine
SCONTROL = '#!/bin/bash\n[[ "$1 $2 $3" == "show hostnames node[01]" ]] && echo localhost\n'


def _standins(tmp_path: Path) -> Path:
    folder = tmp_path / 'slurm_bin'
    folder.mkdir(exist_ok=True)
    for name, body in (('srun', SRUN), ('scontrol', SCONTROL)):
        (folder / name).write_text(body)
        (folder / name).chmod(0o755)
    return folder


def _env(tmp_path: Path, **extra) -> dict:
    env = {**os.environ, 'PYTHON': sys.executable, 'SRUN_LOG': str(tmp_path / 'srun_args'),
           'PATH': f'{_standins(tmp_path)}:{os.environ["PATH"]}', 'PORT': str(free_port())}
    for key in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT'):
        env.pop(key, None)  # what earlier in-process tests may have left
    env.update(extra)
    return env


def _run(cmd, env, timeout=600) -> str:
    proc = run_launch(cmd, env, timeout)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    return log


def test_launcher_choices_are_mmdets():
    import argparse

    from ltr_plugins.launch import add_common_args
    parser = argparse.ArgumentParser()
    add_common_args(parser, 'work dir')
    for launcher in ('none', 'pytorch', 'slurm', 'mpi'):
        assert parser.parse_args(['--launcher', launcher]).launcher == launcher
    with pytest.raises(SystemExit):
        parser.parse_args(['--launcher', 'deepspeed'])


def test_export_launcher_env(tmp_path, monkeypatch):
    from ltr_plugins.launch import export_launcher_env
    for key in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT'):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv('PATH', f'{_standins(tmp_path)}:{os.environ["PATH"]}')
    monkeypatch.setenv('SLURM_PROCID', '3')
    monkeypatch.setenv('SLURM_NTASKS', '4')
    monkeypatch.setenv('SLURM_LOCALID', '1')
    monkeypatch.setenv('SLURM_NODELIST', 'node[01]')
    export_launcher_env('slurm')
    assert [os.environ[k] for k in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR',
                                    'MASTER_PORT')] == ['3', '4', '1', 'localhost', '29500']
    for key in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR'):
        monkeypatch.delenv(key)
    monkeypatch.setenv('OMPI_COMM_WORLD_RANK', '1')
    monkeypatch.setenv('OMPI_COMM_WORLD_SIZE', '2')
    monkeypatch.setenv('OMPI_COMM_WORLD_LOCAL_RANK', '0')
    with pytest.raises(RuntimeError, match='--launcher mpi: set MASTER_ADDR'):
        export_launcher_env('mpi')
    monkeypatch.setenv('MASTER_ADDR', 'host0')
    export_launcher_env('mpi')
    assert (os.environ['RANK'], os.environ['WORLD_SIZE'], os.environ['LOCAL_RANK']) == \
        ('1', '2', '0')
    monkeypatch.delenv('SLURM_PROCID')
    with pytest.raises(RuntimeError, match=r'SLURM_PROCID not set; start the tool through srun'):
        export_launcher_env('slurm')


def test_slurm_scripts_srun_command_line(tmp_path):
    """The srun line of mmdet's scripts: partition, job name, GPUs per node, tasks, CPUs per
    task, kill-on-bad-exit, SRUN_ARGS, then ``python -u tools/<tool>.py ... --launcher=slurm``."""
    env = _env(tmp_path, SRUN_DRY='1', GPUS='16', SRUN_ARGS='--quotatype=auto --time=1:00:00')
    _run(['bash', 'tools/slurm_train.sh', 'gpu_part', 'lvis_iif', 'cfg.py', 'work', '--amp'],
         env)
    assert (tmp_path / 'srun_args').read_text().splitlines() == [
        '-p', 'gpu_part', '--job-name=lvis_iif', '--gres=gpu:8', '--ntasks=16',
        '--ntasks-per-node=8', '--cpus-per-task=5', '--kill-on-bad-exit=1', '--quotatype=auto',
        '--time=1:00:00', sys.executable, '-u', 'tools/train.py', 'cfg.py',
        '--work-dir=work', '--launcher=slurm', '--amp']
    env = _env(tmp_path, SRUN_DRY='1', GRES='', GPUS='4', GPUS_PER_NODE='2')
    _run(['bash', 'tools/slurm_test.sh', 'cpu_part', 'eval', 'cfg.py', 'ckpt.pth'], env)
    assert (tmp_path / 'srun_args').read_text().splitlines() == [
        '-p', 'cpu_part', '--job-name=eval', '--ntasks=4', '--ntasks-per-node=2',
        '--cpus-per-task=5', '--kill-on-bad-exit=1', sys.executable, '-u',
        'tools/test.py', 'cfg.py', 'ckpt.pth', '--launcher=slurm']
    proc = subprocess.run(['bash', 'tools/slurm_train.sh', 'p'], cwd=REPO, capture_output=True,
                          text=True, env=env)
    assert proc.returncode == 2 and 'usage:' in proc.stderr


def test_slurm_train_and_test_two_tasks(tiny_data, tmp_path):
    """tools/slurm_train.sh then tools/slurm_test.sh, 2 tasks each (gloo on CPU): the master
    address comes from the node list through scontrol, rank / world size from srun."""
    env = _env(tmp_path, GRES='', GPUS='2', GPUS_PER_NODE='2', CPUS_PER_TASK='1')
    log = _run(['bash', 'tools/slurm_train.sh', 'cpu', 'ltr', CLS_CFG, str(tmp_path / 'work'),
                *ONE_EPOCH], env)
    assert 'Distributed launcher: slurm' in log and 'Distributed training: True' in log
    assert 'Epoch(train) [1][6/6]' in log  # 384 images / (2 ranks x batch 32)
    checkpoint = tmp_path / 'work' / 'epoch_1.pth'
    assert checkpoint.is_file()
    log = _run(['bash', 'tools/slurm_test.sh', 'cpu', 'ltr', CLS_CFG, str(checkpoint),
                '--work-dir', str(tmp_path / 'test')], env)
    assert 'Distributed launcher: slurm' in log
    assert re.search(r'^accuracy/top1: [0-9.]+$', log, re.M), log[-3000:]


def test_two_nodes_of_one_process_each(tiny_data, tmp_path):
    """tools/dist_train.sh with NNODES=2: two torchrun "nodes" of one process on localhost."""
    env = _env(tmp_path, NNODES='2', MASTER_ADDR='127.0.0.1')
    procs = [subprocess.Popen(['bash', 'tools/dist_train.sh', CLS_CFG, '1', '--work-dir',
                               str(tmp_path / 'work'), *ONE_EPOCH], cwd=REPO, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              env={**env, 'NODE_RANK': str(rank)})
             for rank in (0, 1)]
    logs = [p.communicate(timeout=600)[0] for p in procs]
    for p, log in zip(procs, logs):
        assert p.returncode == 0, log[-4000:]
    assert 'Distributed training: True' in logs[0]
    assert 'Epoch(train) [1][6/6]' in logs[0]  # two ranks: half the iterations of one
    assert (tmp_path / 'work' / 'epoch_1.pth').is_file()


def test_mpi_launcher_two_processes(tiny_data, tmp_path):
    """``--launcher mpi``: rank / world size from Open MPI's variables (as mpirun sets them),
    MASTER_ADDR / MASTER_PORT from the environment; evaluation on 2 ranks."""
    work = tmp_path / 'work'
    _run([sys.executable, 'tools/train.py', CLS_CFG, '--work-dir', str(work), *ONE_EPOCH],
         _env(tmp_path))
    env = _env(tmp_path, MASTER_ADDR='127.0.0.1', MASTER_PORT=str(free_port()),
               OMPI_COMM_WORLD_SIZE='2')
    procs = [subprocess.Popen([sys.executable, 'tools/test.py', CLS_CFG,
                               str(work / 'epoch_1.pth'), '--launcher', 'mpi', '--work-dir',
                               str(tmp_path / 'test')], cwd=REPO, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              env={**env, 'OMPI_COMM_WORLD_RANK': str(rank),
                                   'OMPI_COMM_WORLD_LOCAL_RANK': str(rank)})
             for rank in (0, 1)]
    logs = [p.communicate(timeout=600)[0] for p in procs]
    for p, log in zip(procs, logs):
        assert p.returncode == 0, log[-4000:]
    assert 'Distributed launcher: mpi' in logs[0]
    assert re.search(r'^accuracy/top1: [0-9.]+$', logs[0], re.M), logs[0][-3000:]


def test_slurm_scripts_are_shipped_with_the_package():
    """setup.cfg ships tools/slurm_*.sh in the wheel's .mim/tools, as the dist_*.sh."""
    cfg = (REPO / 'setup.cfg').read_text()
    assert '.mim/tools/slurm_*.sh' in cfg and '.mim/tools/dist_*.sh' in cfg


def test_process_group_destroyed_at_exit(tmp_path):
    """setup_distributed registers the teardown: at interpreter exit the gloo group is
    destroyed before Python finalises (a rank left to finalisation could abort after its
    work). The check runs after the teardown (atexit handlers run last-registered first)."""
    script = '''
import atexit
import torch
import torch.distributed as dist
from mmengine.config import Config
torch.cuda.is_available = lambda: False  # the CPU (gloo) path also on a GPU machine
from ltr_plugins.launch import setup_distributed
atexit.register(lambda: print('group alive after teardown:', dist.is_initialized()))
cfg = Config(dict(launcher='pytorch'))
setup_distributed(cfg)
print('group alive during the run:', dist.is_initialized(), dist.get_world_size())
'''
    env = _env(tmp_path, RANK='0', WORLD_SIZE='1', MASTER_ADDR='127.0.0.1',
               MASTER_PORT=str(free_port()))
    out = _run([sys.executable, '-c', script], env)
    assert 'group alive during the run: True 1' in out
    assert 'group alive after teardown: False' in out
