"""Narrow fixes for known breakages of the pinned stack. Applied once by ``import ltr_plugins``.

1. ``lvis`` 0.5.3 evaluation uses ``np.float`` (removed in numpy 1.24). We give ``lvis.eval``
   its own numpy proxy that also has ``float``; global numpy is left untouched.
2. mmengine 0.10 loads checkpoints with a bare ``torch.load``; since torch 2.6 that means
   ``weights_only=True``, which refuses the ``HistoryBuffer`` / numpy objects mmengine stores
   for ``--resume``. Instead of turning safety off we register a local checkpoint loader that
   unpickles with an allow-list: torch's own weights-only globals + the few types mmengine
   writes. ``getattr`` (which the message hub pickles as ``getattr(HistoryBuffer, 'min')``) is
   only admitted on allow-listed classes. Any other global raises ``pickle.UnpicklingError``.
3. mmengine's local file backend writes checkpoints in place; we make it write a temporary file
   and rename it (:func:`patch_mmengine_atomic_local_writes`).
4. mmcv's CPU nms / RoIAlign accept float32 only; under CPU autocast they run in float32.
"""
from __future__ import annotations

import _compat_pickle
import importlib
import importlib.util
import os.path as osp
import pickle
import types
from typing import Any, Callable, Dict, Iterable, Tuple

import numpy as np
import torch

# ----------------------------------------------------------------------------------- lvis


class _NumpyWithFloat(types.ModuleType):
    """numpy, plus the ``np.float`` alias that ``lvis`` 0.5.3 still uses."""

    float = float

    def __getattr__(self, name: str) -> Any:
        return getattr(np, name)


def patch_lvis_numpy() -> bool:
    """Give ``lvis.eval`` a numpy with ``float``. Returns False if lvis is not installed."""
    try:
        lvis_eval = importlib.import_module('lvis.eval')
    except ImportError:
        return False
    if not hasattr(lvis_eval.np, 'float'):
        lvis_eval.np = _NumpyWithFloat('numpy')
    return True


# --------------------------------------------------------------------- safe checkpoint load
def _numpy_globals() -> Dict[str, Any]:
    """numpy objects that appear in pickled arrays and scalars (numpy 1.x and 2.x names)."""
    out: Dict[str, Any] = {'numpy.ndarray': np.ndarray, 'numpy.dtype': np.dtype}
    multiarray = importlib.import_module(
        'numpy._core.multiarray' if hasattr(np, '_core') else 'numpy.core.multiarray')
    for mod in ('numpy.core.multiarray', 'numpy._core.multiarray'):  # 1.x and 2.x pickles
        for name in ('_reconstruct', 'scalar'):
            out[f'{mod}.{name}'] = getattr(multiarray, name)
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        for name in dir(dtypes):
            if name.endswith('DType'):
                out[f'numpy.dtypes.{name}'] = getattr(dtypes, name)
    return out


def _mmengine_globals() -> Dict[str, Any]:
    try:
        from mmengine.logging.history_buffer import HistoryBuffer
    except ImportError:
        return {}
    return {'mmengine.logging.history_buffer.HistoryBuffer': HistoryBuffer}


def _getattr_allowed() -> Dict[str, Tuple[str, ...]]:
    """Classes on which a pickled ``getattr(cls, name)`` is admitted, with the names."""
    try:
        from mmengine.logging.history_buffer import HistoryBuffer
    except ImportError:
        return {}
    # HistoryBuffer pickles its statistics methods (min/max/mean/current + registered ones).
    return {'mmengine.logging.history_buffer.HistoryBuffer':
            tuple(HistoryBuffer._statistics_methods) + ('min', 'max', 'mean', 'current')}


_EXTRA_GLOBALS: Dict[str, Any] = {}


def allow_checkpoint_globals(objs: Iterable[Any]) -> None:
    """Admit more classes / functions when loading checkpoints (like
    ``torch.serialization.add_safe_globals``, which is honoured as well)."""
    for obj in objs:
        _EXTRA_GLOBALS[f'{obj.__module__}.{obj.__qualname__}'] = obj


def _allowed_globals() -> Dict[str, Any]:
    from torch._weights_only_unpickler import _get_allowed_globals
    allowed = dict(_get_allowed_globals())
    for obj in torch.serialization.get_safe_globals():
        if isinstance(obj, tuple):  # (obj, 'module.name') form
            allowed[obj[1]] = obj[0]
        else:
            allowed[f'{obj.__module__}.{obj.__qualname__}'] = obj
    allowed.update(_numpy_globals())
    allowed.update(_mmengine_globals())
    allowed.update(_EXTRA_GLOBALS)
    return allowed


def _restricted_getattr(allowed: Dict[str, Any]) -> Callable[[Any, str], Any]:
    by_obj = {id(allowed[k]): names for k, names in _getattr_allowed().items() if k in allowed}

    def safe_getattr(obj: Any, name: str) -> Any:
        if name not in by_obj.get(id(obj), ()):
            raise pickle.UnpicklingError(
                f'checkpoint asks for getattr({obj!r}, {name!r}), which is not allow-listed')
        return getattr(obj, name)

    return safe_getattr


def _make_pickle_module() -> types.ModuleType:
    allowed = _allowed_globals()
    safe_getattr = _restricted_getattr(allowed)

    class RestrictedUnpickler(pickle.Unpickler):

        def find_class(self, module: str, name: str) -> Any:
            # protocol-2 pickles (torch.save's default) name Python 2 modules, e.g.
            # __builtin__; map them as pickle's own find_class does.
            if (module, name) in _compat_pickle.NAME_MAPPING:
                module, name = _compat_pickle.NAME_MAPPING[(module, name)]
            elif module in _compat_pickle.IMPORT_MAPPING:
                module = _compat_pickle.IMPORT_MAPPING[module]
            key = f'{module}.{name}'
            if key == 'builtins.getattr':
                return safe_getattr
            if key in allowed:
                return allowed[key]
            raise pickle.UnpicklingError(
                f'checkpoint references the global {key!r}, which is not allow-listed; if you '
                f'trust the file, add it with ltr_plugins.compat.allow_checkpoint_globals() '
                f'or torch.serialization.add_safe_globals()')

    mod = types.ModuleType('ltr_plugins_restricted_pickle')
    mod.Unpickler = RestrictedUnpickler
    mod.load = lambda f, **kw: RestrictedUnpickler(f, **kw).load()
    mod.__name__ = 'ltr_plugins_restricted_pickle'
    return mod


def safe_torch_load(filename: str, map_location: Any = None) -> Any:
    """``torch.load`` that admits only allow-listed globals (see module docstring)."""
    return torch.load(filename, map_location=map_location, weights_only=False,
                      pickle_module=_make_pickle_module())


def load_from_local_safe(filename: str, map_location: Any = None) -> Any:
    """mmengine local-file checkpoint loader using :func:`safe_torch_load`."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    return safe_torch_load(filename, map_location)


def register_safe_checkpoint_loader() -> bool:
    """Make mmengine's default (local path) checkpoint scheme use the restricted loader."""
    try:
        from mmengine.runner.checkpoint import CheckpointLoader
    except ImportError:
        return False
    CheckpointLoader.register_scheme(prefixes='', loader=load_from_local_safe, force=True)
    return True


def fix_editable_installed_path() -> None:
    """mmengine's ``get_installed_path('ltr_plugins')`` returns ``<site-packages>/ltr_plugins``
    (the dist-info location + module name), which does not exist for a PEP 660 editable
    install (``pip install -e .``): ``ltr_plugins::`` configs would not resolve in a source
    checkout. Answer with the imported package's real directory for this package only; every
    other package goes to mmengine's function unchanged."""
    if importlib.util.find_spec('mmengine') is None:
        return
    import mmengine.config.config as config_module
    import mmengine.hub.hub as hub_module
    import mmengine.utils as utils_module
    original = utils_module.get_installed_path
    if getattr(original, '_ltr_plugins_fix', False):
        return
    here = osp.dirname(osp.abspath(__file__))

    def get_installed_path(package: str) -> str:
        if package in ('ltr_plugins', 'ltr-plugins'):
            return here
        return original(package)

    get_installed_path._ltr_plugins_fix = True
    for module in (utils_module, config_module, hub_module):
        module.get_installed_path = get_installed_path


def _float32_on_cpu(*tensors):
    """Cast reduced-precision CPU tensors to float32 (others unchanged)."""
    return tuple(t.float() if isinstance(t, torch.Tensor) and t.device.type == 'cpu'
                 and t.dtype in (torch.bfloat16, torch.float16) else t for t in tensors)


def patch_mmcv_cpu_ops_for_autocast() -> None:
    """mmcv's CPU kernels of ``nms`` and ``RoIAlign`` accept float32 only and raise
    ``expected scalar type Float but found BFloat16`` under CPU autocast (``--amp``). Run them
    in float32 when they get bf16 / fp16 CPU tensors, RoIAlign returning the input's dtype (the
    casts are differentiable, so gradients reach the bf16 features); float32 and GPU inputs take
    the original code path."""
    if importlib.util.find_spec('mmcv') is None:
        return
    try:  # (mmcv.ops re-exports functions named like these modules: import the modules)
        nms_module = importlib.import_module('mmcv.ops.nms')
        roi_align_module = importlib.import_module('mmcv.ops.roi_align')
    except ImportError:  # mmcv without compiled ops
        return
    nmsop = nms_module.NMSop
    if not getattr(nmsop.forward, '_ltr_plugins_fix', False):
        original_nms = nmsop.forward

        def nms_forward(ctx, bboxes, scores, *args):
            return original_nms(ctx, *_float32_on_cpu(bboxes, scores), *args)

        nms_forward._ltr_plugins_fix = True
        nmsop.forward = staticmethod(nms_forward)
    module = roi_align_module.RoIAlign
    if not getattr(module.forward, '_ltr_plugins_fix', False):
        original_roi_align = module.forward

        def roi_align_forward(self, input, rois):
            if input.device.type == 'cpu' and (input.dtype != torch.float32
                                               or rois.dtype != torch.float32):
                with torch.autocast('cpu', enabled=False):  # output in the input's dtype
                    out = original_roi_align(self, *_float32_on_cpu(input, rois))
                return out.to(input.dtype)
            return original_roi_align(self, input, rois)

        roi_align_forward._ltr_plugins_fix = True
        module.forward = roi_align_forward


def patch_mmengine_atomic_local_writes() -> bool:
    """mmengine's ``LocalBackend.put`` / ``put_text`` (checkpoints, via ``save_checkpoint``)
    open the target with ``'wb'`` and write into it: a run killed while saving leaves a
    truncated ``epoch_N.pth`` under its final name. Write a temporary file in the same folder
    and ``os.replace`` it there (:mod:`ltr_plugins.fileio`), so the target is either the old
    file or the complete new one. Returns False if mmengine is not installed."""
    try:
        from mmengine.fileio.backends.local_backend import LocalBackend
    except ImportError:
        return False
    if getattr(LocalBackend.put, '_ltr_plugins_fix', False):
        return True
    from .fileio import atomic_write_bytes
    original_put, original_put_text = LocalBackend.put, LocalBackend.put_text

    def put(self, obj: bytes, filepath) -> None:
        atomic_write_bytes(filepath, obj)

    def put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
        atomic_write_bytes(filepath, obj.encode(encoding))

    for fn, original in ((put, original_put), (put_text, original_put_text)):
        fn._ltr_plugins_fix = True
        fn._ltr_plugins_original = original
        fn.__doc__ = original.__doc__
    LocalBackend.put, LocalBackend.put_text = put, put_text
    return True


def apply() -> None:
    """Apply every fix whose package is installed. Idempotent."""
    patch_lvis_numpy()
    register_safe_checkpoint_loader()
    patch_mmengine_atomic_local_writes()
    fix_editable_installed_path()
    patch_mmcv_cpu_ops_for_autocast()
