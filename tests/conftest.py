import importlib.util
import os
import socket
import subprocess
import sys
import warnings
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[1]
TINY_ROOT = REPO / 'data' / 'tiny'
_TOOLS = {}


def load_tool(rel: str) -> ModuleType:
    """The script ``rel`` (repo-relative, e.g. ``'tools/benchmark.py'``) imported as a module,
    once per session, so that tests call its functions or ``main(argv)`` in this process."""
    if rel not in _TOOLS:
        spec = importlib.util.spec_from_file_location(
            'ltr_tool_' + rel.replace('/', '_').replace('.py', ''), REPO / rel)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _TOOLS[rel] = module
    return _TOOLS[rel]


@pytest.fixture(autouse=True)
def _restore_default_scope():
    """In-process Runners set mmengine's global default scope (e.g. 'mmpretrain'), which then
    redirects every later registry build: drop the scopes a test created, so tests do not depend
    on their order."""
    try:
        from mmengine.registry import DefaultScope
    except ImportError:
        yield
        return
    before = list(DefaultScope._instance_dict)
    yield
    for name in list(DefaultScope._instance_dict):
        if name not in before:
            del DefaultScope._instance_dict[name]


@pytest.fixture(scope='session')
def tiny_data() -> Path:
    """The `tiny` embedded preset under data/tiny (idempotent; seconds)."""
    from ltr_plugins.datasets.generator import generate
    generate(TINY_ROOT, preset='tiny', seed=0)
    return TINY_ROOT


@pytest.fixture(scope='session')
def demo_data() -> Path:
    """The `demo` embedded preset under data/demo (idempotent; ~10 s the first time)."""
    from ltr_plugins.datasets.generator import generate
    generate(REPO / 'data' / 'demo', preset='demo', seed=0)
    return REPO / 'data' / 'demo'


#: what a gloo rank prints when it dies of the random SIGABRT of issue 21 (cause not found yet)
KNOWN_ABORT = 'terminate called without an active exception'


def free_port() -> int:
    with socket.socket() as s:  # a fixed port collides with any other run on the machine
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def run_launch(cmd, env: dict, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run a multi-process launch (``tools/dist_*.sh``, ``tools/slurm_*.sh``) from the repo
    root on a free ``PORT``, with Python's faulthandler on (a rank killed by a signal prints
    every thread's Python stack). Stopgap for CI, not a fix: a run whose log shows the known
    random abort of issue 21 (:data:`KNOWN_ABORT`) is run once more, and a warning keeps the
    aborted run's log for diagnosis; every other outcome is returned as is."""
    env = {**env, 'PYTHONFAULTHANDLER': '1'}
    for attempt in range(2):
        proc = subprocess.run([str(c) for c in cmd], cwd=REPO, capture_output=True, text=True,
                              timeout=timeout, env={**env, 'PORT': str(free_port())})
        log = proc.stdout + proc.stderr
        if proc.returncode == 0 or KNOWN_ABORT not in log or attempt:
            return proc
        # faulthandler's report (every thread's Python stack) first, then the log's end
        fatal = log.find('Fatal Python error')
        report = log[fatal:fatal + 12000] if fatal >= 0 else ''
        warnings.warn(f'issue 21: a rank of {cmd} aborted ({KNOWN_ABORT!r}); running it once '
                      f'more. faulthandler:\n{report}\nThe aborted run\'s log:\n{log[-3000:]}')
    return proc


def run_tool(args, timeout=600, **env) -> subprocess.CompletedProcess:
    """Run a python tool from the repo root; fail the test with its output on error."""
    proc = subprocess.run([sys.executable, *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **env})
    if proc.returncode != 0:
        pytest.fail(f'{args} exited {proc.returncode}\n--- stdout\n{proc.stdout[-6000:]}'
                    f'\n--- stderr\n{proc.stderr[-6000:]}')
    return proc
