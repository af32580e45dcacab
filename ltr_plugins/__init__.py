"""ltr_plugins: long-tailed recognition plugins for mmpretrain and mmdet.

``import ltr_plugins`` (or ``custom_imports=dict(imports=['ltr_plugins'])`` in a config)
registers every plugin into the registries of whichever of mmpretrain / mmdet is installed, and
does nothing else: no attribute of mmcv, mmengine, mmdet, mmpretrain or lvis is changed
(``tests/project/test_plugin_registers_only.py``). The fixes this package's own tools need are
applied by the tools (:func:`ltr_plugins.compat.apply_tool_fixes`); ``ltr_plugins::`` config
names need :func:`ltr_plugins.mim.enable_config_names`. :mod:`ltr_plugins.core` and
:mod:`ltr_plugins.datasets` need only torch / numpy.
"""
import importlib.util

from . import compat, env, mim
from .version import __version__

env.check_versions()  # unsupported mmengine / mmcv / mmdet / mmpretrain: a clear ImportError

if importlib.util.find_spec('mmengine') is not None:
    from . import hooks, optim  # noqa: F401  (registers OLTRCentroidInitHook, AutocastOptimWrapper)
if importlib.util.find_spec('mmpretrain') is not None:
    from . import mmpretrain  # noqa: F401  (registers into mmpretrain)
if importlib.util.find_spec('mmdet') is not None:
    from . import mmdet  # noqa: F401  (registers into mmdet)

__all__ = ['__version__', 'compat', 'mim']
