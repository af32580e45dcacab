"""The configs and tools shipped inside the package (``ltr_plugins/.mim``, as mmdet ships
``mmdet/.mim``), and ``ltr_plugins::`` config names.

After :func:`enable_config_names`, mmengine resolves ``ltr_plugins::<path>`` like
``mmdet::<path>``: ``_base_ = 'ltr_plugins::iif/mask-rcnn_r50_fpn_iif-raw_1x_lvis-v1.py'`` in
any config, and
``mmengine.hub.get_config('ltr_plugins::iif/mask-rcnn_r50_fpn_iif-raw_1x_lvis-v1.py')``.
mmengine only knows the packages listed in its ``MODULE2PACKAGE`` table, so this package has to
be added there, which
changes mmengine's state: ``import ltr_plugins`` does not do it (a plugin only registers
modules). This package's tools and ``ltr-*`` entry points call it; other programs call it
once before they read such a config::

    import ltr_plugins.mim
    ltr_plugins.mim.enable_config_names()
"""
import os.path as osp

PACKAGE = 'ltr_plugins'
MIM_ROOT = osp.join(osp.dirname(osp.abspath(__file__)), '.mim')


def register_config_package() -> bool:
    """Add this package to mmengine's ``MODULE2PACKAGE`` table. Returns False without
    mmengine. Prefer :func:`enable_config_names`, which also makes the names resolve in an
    editable install."""
    try:
        from mmengine.config.utils import MODULE2PACKAGE
    except ImportError:
        return False
    MODULE2PACKAGE.setdefault(PACKAGE, PACKAGE)
    return True


def enable_config_names() -> bool:
    """Let mmengine resolve ``ltr_plugins::<path>`` config names (``_base_``, ``get_config``,
    ``Config.fromfile``): :func:`register_config_package`, and, in an editable install,
    :func:`ltr_plugins.compat.fix_editable_installed_path`. Idempotent. Returns False (and does
    nothing) without mmengine."""
    if not register_config_package():
        return False
    from .compat import fix_editable_installed_path
    fix_editable_installed_path()
    return True


def config_path(name: str) -> str:
    """Absolute path of a config given as a file path, ``ltr_plugins::<path>`` or any other
    ``<package>::<path>`` mmengine knows (e.g. ``mmdet::lvis/...``). A package name calls
    :func:`enable_config_names` first.

    Raises:
        FileNotFoundError: naming the config when it does not exist.
    """
    if '::' not in name:
        if not osp.isfile(name):
            raise FileNotFoundError(f'config file {name!r} does not exist')
        return name
    enable_config_names()
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
