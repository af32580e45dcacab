"""lvis-api's ``LVISEval`` on numpy >= 1.24, without modifying the ``lvis`` module.

``lvis`` 0.5.3, the latest release on PyPI, calls the ``np.float`` alias in
``LVISEval.accumulate`` (lvis-dataset/lvis-api, ``lvis/eval.py`` of the 0.5.3 release, lines
361-362: ``np.cumsum(tps, axis=1).astype(dtype=np.float)``). numpy 1.24 removed the alias, so
every LVIS evaluation stops with ``AttributeError: module 'numpy' has no attribute 'float'``.
lvis-api's master branch writes ``dtype=float`` there, but no release has it.

:class:`LVISEval` overrides ``accumulate`` only: it runs lvis's own ``accumulate`` code with its
global name ``np`` bound to a numpy that also has ``float`` (the builtin ``float``, which the
alias was). Global numpy and ``lvis.eval`` stay as they are. When the installed lvis no longer
reads ``np.float``, or numpy still has it, the inherited ``accumulate`` runs unchanged.
"""
import dis
import types
from typing import Any, Callable

import numpy as np
from lvis import LVISEval as _UpstreamLVISEval

from .compat import with_globals


class _NumpyWithFloat(types.ModuleType):
    """numpy, plus the ``np.float`` alias that ``lvis`` 0.5.3 still uses."""

    float = float

    def __getattr__(self, name: str) -> Any:
        return getattr(np, name)


def reads_numpy_float(function: Callable) -> bool:
    """True if ``function``'s code reads an attribute ``float`` (``np.float``) and this numpy
    no longer has that alias (numpy >= 1.24)."""
    return not hasattr(np, 'float') and any(
        ins.opname == 'LOAD_ATTR' and ins.argval == 'float'
        for ins in dis.get_instructions(function))


_upstream_accumulate = _UpstreamLVISEval.accumulate
_accumulate = (with_globals(_upstream_accumulate, np=_NumpyWithFloat('numpy'))
               if reads_numpy_float(_upstream_accumulate) else _upstream_accumulate)


class LVISEval(_UpstreamLVISEval):
    """``lvis.LVISEval`` (same arguments, results and ``eval`` arrays) whose ``accumulate``
    also works on numpy >= 1.24 (see the module docstring)."""

    def accumulate(self) -> None:
        """lvis's ``LVISEval.accumulate``: fills ``self.eval['precision']`` (T, R, K, A) and
        ``self.eval['recall']`` (T, K, A) for T IoU thresholds, R recall thresholds, K
        categories and A area ranges."""
        _accumulate(self)
