"""Issue 21: at exit the gloo process group is freed, and its native threads are joined, while
the interpreter is intact (not during finalisation), even when the DDP wrapper that holds the
group sits in a reference cycle, as mmengine's runner does."""
import os
import subprocess
import sys

from ltr_testing import REPO, free_port

SCRIPT = '''
import atexit, os
import torch
import torch.distributed as dist
from mmengine.config import Config
torch.cuda.is_available = lambda: False  # the CPU (gloo) path also on a GPU machine
from ltr_plugins.launch import setup_distributed


def gloo_threads():
    names = [open(f'/proc/self/task/{t}/comm').read().strip()
             for t in os.listdir('/proc/self/task')]
    return sorted(n for n in names if 'gloo' in n)


# registered first, so it runs last: after the teardown setup_distributed registers
atexit.register(lambda: print('gloo threads after teardown:', gloo_threads(), flush=True))
setup_distributed(Config(dict(launcher='pytorch')))
model = torch.nn.Linear(4, 2)
ddp = torch.nn.parallel.DistributedDataParallel(model, broadcast_buffers=False)
ddp(torch.randn(3, 4)).sum().backward()
holder = {'ddp': ddp}
holder['self'] = holder  # a reference cycle, as the runner's
del model, ddp, holder
print('gloo threads during the run:', gloo_threads(), flush=True)
'''


def test_gloo_threads_are_joined_before_finalisation():
    env = {**os.environ, 'PYTHONPATH': str(REPO), 'RANK': '0', 'WORLD_SIZE': '1',
           'MASTER_ADDR': '127.0.0.1', 'MASTER_PORT': str(free_port())}
    proc = subprocess.run([sys.executable, '-c', SCRIPT], cwd=REPO, env=env, text=True,
                          capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = {line.split(':')[0]: line.split(':', 1)[1].strip()
             for line in proc.stdout.splitlines() if line.startswith('gloo threads')}
    assert 'pt_gloo_runloop' in lines['gloo threads during the run']  # the check sees them
    assert lines['gloo threads after teardown'] == '[]'
