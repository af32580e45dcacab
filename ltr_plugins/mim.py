"""The configs and tools shipped inside the package (``ltr_plugins/.mim``, as mmdet ships
``mmdet/.mim``), and ``ltr_plugins::`` config names.

After ``import ltr_plugins``, mmengine resolves ``ltr_plugins::<path>`` like ``mmdet::<path>``:
``_base_ = 'ltr_plugins::iif/mask-rcnn_r50_fpn_iif-raw_1x_lvis-v1.py'`` in any config, and
``mmengine.hub.get_config('ltr_plugins::iif/mask-rcnn_r50_fpn_iif-raw_1x_lvis-v1.py')``. mmengine
only knows the packages listed in its ``MODULE2PACKAGE`` table, so
:func:`register_config_package` adds this one there (done on import).
"""
import os.path as osp

PACKAGE = 'ltr_plugins'
MIM_ROOT = osp.join(osp.dirname(osp.abspath(__file__)), '.mim')


def register_config_package() -> None:
    """Let mmengine resolve ``ltr_plugins::`` config paths (no-op without mmengine)."""
    try:
        from mmengine.config.utils import MODULE2PACKAGE
    except ImportError:
        return
    MODULE2PACKAGE.setdefault(PACKAGE, PACKAGE)


def config_path(name: str) -> str:
    """Absolute path of a config given as a file path, ``ltr_plugins::<path>`` or any other
    ``<package>::<path>`` mmengine knows (e.g. ``mmdet::lvis/...``).

    Raises:
        FileNotFoundError: naming the config when it does not exist.
    """
    if '::' not in name:
        if not osp.isfile(name):
            raise FileNotFoundError(f'config file {name!r} does not exist')
        return name
    register_config_package()
    from mmengine.config import Config
    try:
        path, _ = Config._get_cfg_path(name, '')
    except (AssertionError, ValueError, FileNotFoundError, ModuleNotFoundError) as e:
        raise FileNotFoundError(f'config {name!r} cannot be resolved: {e}') from e
    return path


def tool_path(name: str) -> str:
    """Absolute path of a shipped tool script, e.g. ``tool_path('train.py')``."""
    path = osp.join(MIM_ROOT, 'tools', name)
    if not osp.isfile(path):
        raise FileNotFoundError(f'tool {name!r} is not shipped in {osp.dirname(path)}')
    return path
