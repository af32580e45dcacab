"""ltr_plugins: long-tailed recognition plugins for mmpretrain and mmdet.

``import ltr_plugins`` (or ``custom_imports=dict(imports=['ltr_plugins'])`` in a config) applies
the compat fixes of :mod:`ltr_plugins.compat` and registers every plugin into the registries of
whichever of mmpretrain / mmdet is installed. :mod:`ltr_plugins.core` and
:mod:`ltr_plugins.datasets` need only torch / numpy.
"""
import importlib.util

from . import compat, env, mim
from .version import __version__

env.check_versions()  # unsupported mmengine / mmcv / mmdet / mmpretrain: a clear ImportError
compat.apply()
mim.register_config_package()  # `ltr_plugins::<config>` paths in mmengine configs

if importlib.util.find_spec('mmengine') is not None:
    from . import hooks, optim  # noqa: F401  (registers OLTRCentroidInitHook, AutocastOptimWrapper)
if importlib.util.find_spec('mmpretrain') is not None:
    from . import mmpretrain  # noqa: F401  (registers into mmpretrain)
if importlib.util.find_spec('mmdet') is not None:
    from . import mmdet  # noqa: F401  (registers into mmdet)

__all__ = ['__version__', 'compat']
