"""Narrow fixes for known breakages of the pinned stack. **Nothing here runs on
``import ltr_plugins``**: the plugin only registers modules. Each fix names the upstream code it
works around and checks that the installed version is one it was written for (outside that
range it is skipped with a ``RuntimeWarning`` naming the fix and the version).

Applied by this package's tools (:func:`apply_tool_fixes`; ``tools/train.py``,
``tools/test.py``, ``tools/analysis/show_cam.py``, ``tools/vlltr/select_anchor_sentences.py``
and the ``ltr-*`` entry points that run them):

1. Safe checkpoint loading (:func:`register_safe_checkpoint_loader`). mmengine 0.10 loads local
   checkpoints with a bare ``torch.load(filename, map_location=map_location)`` (mmengine 0.10.7,
   ``mmengine/runner/checkpoint.py`` line 347, ``load_from_local``); since torch 2.6 that means
   ``weights_only=True``, which refuses the ``HistoryBuffer`` / numpy objects mmengine stores for
   ``--resume``. Instead of turning safety off we register a local checkpoint loader that
   unpickles with an allow-list: torch's own weights-only globals + the few types mmengine
   writes. ``getattr`` (which the message hub pickles as ``getattr(HistoryBuffer, 'min')``) is
   only admitted on allow-listed classes. Any other global raises ``pickle.UnpicklingError``.
   Checkpoints given as ``http(s)://`` URLs, which mmengine unpickles without restriction
   (``torch.hub``'s ``weights_only=False``), go through the same allow-list
   (:func:`load_from_http_safe`).
2. Atomic checkpoint writes (:func:`patch_mmengine_atomic_local_writes`). mmengine 0.10's
   ``LocalBackend.put`` / ``put_text`` write the target in place (mmengine 0.10.7,
   ``mmengine/fileio/backends/local_backend.py`` lines 77 and 102); we make them write a
   temporary file and rename it.
3. ``ltr_plugins::`` config names (:func:`ltr_plugins.mim.enable_config_names`, which uses
   :func:`fix_editable_installed_path`).

With mmdet's / mmpretrain's own tools, :class:`ltr_plugins.hooks.CheckpointFixesHook` (in a
config's ``custom_hooks``) applies fixes 1 and 2 for one run and undoes them afterwards.

Applied by ``tools/train.py`` only when it trains under autocast
(:func:`ltr_plugins.launch.enable_autocast_ops`):

4. mmcv 2.1's CPU nms / RoIAlign accept float32 only; under CPU autocast they run in float32
   (:func:`patch_mmcv_cpu_ops_for_autocast`).

Not a patch at all: ``lvis`` 0.5.3 evaluation uses ``np.float`` (removed in numpy 1.24);
:class:`ltr_plugins.lvis_eval.LVISEval` (used by ``LongTailLVISMetric``) is a subclass that
works on numpy 2, and the ``lvis`` module is left as it is.
"""
from __future__ import annotations

import _compat_pickle
import importlib
import importlib.util
import os
import os.path as osp
import pickle
import re
import sys
import types
import warnings
from typing import Any, Callable, Dict, Iterable, Optional, Tuple

import numpy as np
import torch


# ------------------------------------------------------------------------ version checks
def installed_version(module: str) -> Optional[Tuple[int, ...]]:
    """``(major, minor, patch)`` of an importable module's ``__version__`` (``'2.14.1+cpu'`` ->
    ``(2, 14, 1)``); None if the module is not installed."""
    if importlib.util.find_spec(module) is None:
        return None
    version = getattr(importlib.import_module(module), '__version__', '0')
    return tuple(int(part) for part in re.findall(r'\d+', version)[:3])


def version_in_range(fix: str, module: str, low: Tuple[int, ...], high: Tuple[int, ...]) -> bool:
    """True if ``module`` is installed at a version in ``[low, high)``: the versions ``fix``
    was written and tested for. An installed version outside the range warns (naming the fix,
    the module and both versions) and returns False: the fix is skipped there."""
    version = installed_version(module)
    if version is None:
        return False
    if low <= version < high:
        return True
    dotted = '.'.join
    warnings.warn(f'ltr_plugins: {fix} was written for {module} >= {dotted(map(str, low))}, '
                  f'< {dotted(map(str, high))}; {module} {dotted(map(str, version))} is '
                  f'installed: the fix is not applied', RuntimeWarning, stacklevel=3)
    return False


def with_globals(function: Callable, **names: Any) -> Callable:
    """A copy of ``function`` (same code) whose global ``names`` are bound to other objects.

    Runs upstream code unchanged with e.g. another class behind a name it looks up at call
    time, without modifying the upstream module (the copy reads a snapshot of the module's
    namespace). Raises ``RuntimeError`` when the code does not use one of ``names`` (the
    upstream code changed: the fix would do nothing).
    """
    unused = [name for name in names if name not in function.__code__.co_names]
    if unused:
        raise RuntimeError(f'{function.__module__}.{function.__qualname__} no longer uses '
                           f'{unused}: the ltr_plugins fix for it needs updating')
    namespace = dict(vars(sys.modules[function.__module__]), **names)
    copy = types.FunctionType(function.__code__, namespace, function.__name__,
                              function.__defaults__, function.__closure__)
    copy.__kwdefaults__ = function.__kwdefaults__
    copy.__doc__, copy.__qualname__ = function.__doc__, function.__qualname__
    return copy


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


#: mmengine versions whose local checkpoint loader / file backend the tool-side fixes replace
MMENGINE_RANGE = ((0, 10, 0), (0, 11, 0))
#: torch made ``weights_only=True`` the default of ``torch.load`` in 2.6
TORCH_WEIGHTS_ONLY_DEFAULT = (2, 6, 0)


def load_from_http_safe(filename: str, map_location: Any = None,
                        model_dir: Optional[str] = None) -> Any:
    """mmengine http(s) checkpoint loader using :func:`safe_torch_load`.

    mmengine 0.10's ``load_from_http`` (``mmengine/runner/checkpoint.py`` line 351) hands URLs to
    ``torch.hub.load_state_dict_from_url``, whose ``weights_only`` defaults to False: a
    downloaded file is unpickled without any restriction. This downloads it the same way (once,
    into ``<torch hub dir>/checkpoints``, i.e. ``$TORCH_HOME/hub/checkpoints``; in a distributed
    run rank 0 first, the others after a barrier) and unpickles it with the allow-list.
    """
    from urllib.parse import urlparse

    import torch.distributed as dist
    from torch.hub import download_url_to_file, get_dir
    model_dir = model_dir or osp.join(get_dir(), 'checkpoints')
    cached = osp.join(model_dir, osp.basename(urlparse(filename).path))
    distributed = dist.is_available() and dist.is_initialized()
    rank = dist.get_rank() if distributed else 0

    def download() -> None:
        if not osp.isfile(cached):
            os.makedirs(model_dir, exist_ok=True)
            download_url_to_file(filename, cached, None, progress=False)

    if rank == 0:
        download()
    if distributed:
        dist.barrier()
        if rank > 0:  # another node without the shared cache
            download()
    return safe_torch_load(cached, map_location)


def register_safe_checkpoint_loader() -> bool:
    """Make mmengine's default (local path) and ``http://`` / ``https://`` checkpoint schemes
    use the restricted loader (fix 1 of the module docstring; a tool-side fix). Returns whether
    they are registered: not for torch < 2.6 (mmengine's plain ``torch.load`` works there) or
    an mmengine outside :data:`MMENGINE_RANGE` (warned)."""
    if installed_version('torch') < TORCH_WEIGHTS_ONLY_DEFAULT:
        return False
    if not version_in_range('the safe checkpoint loader', 'mmengine', *MMENGINE_RANGE):
        return False
    from mmengine.runner.checkpoint import CheckpointLoader
    CheckpointLoader.register_scheme(prefixes='', loader=load_from_local_safe, force=True)
    CheckpointLoader.register_scheme(prefixes=('http://', 'https://'), loader=load_from_http_safe,
                                     force=True)
    return True


def fix_editable_installed_path() -> bool:
    """mmengine's ``get_installed_path('ltr_plugins')`` returns ``<site-packages>/ltr_plugins``
    (the dist-info location + module name), which does not exist for a PEP 660 editable
    install (``pip install -e .``): ``ltr_plugins::`` configs would not resolve in a source
    checkout. When mmengine's answer is not the imported package's directory, answer with that
    directory for this package only; every other package goes to mmengine's function
    unchanged. Called by :func:`ltr_plugins.mim.enable_config_names`, never on import.
    Returns whether the fix is in place."""
    if importlib.util.find_spec('mmengine') is None:
        return False
    import mmengine.config.config as config_module
    import mmengine.hub.hub as hub_module
    import mmengine.utils as utils_module
    original = utils_module.get_installed_path
    if getattr(original, '_ltr_plugins_fix', False):
        return True
    here = osp.dirname(osp.abspath(__file__))
    try:
        if osp.abspath(original('ltr_plugins')) == here:
            return False  # mmengine finds this copy itself (wheel install, plain PYTHONPATH)
    except Exception:  # noqa: BLE001  (mmengine raises several kinds for unknown packages)
        pass

    def get_installed_path(package: str) -> str:
        if package in ('ltr_plugins', 'ltr-plugins'):
            return here
        return original(package)

    get_installed_path._ltr_plugins_fix = True
    get_installed_path.__doc__ = original.__doc__
    for module in (utils_module, config_module, hub_module):
        module.get_installed_path = get_installed_path
    return True


#: mmcv versions whose float32-only CPU nms / RoIAlign kernels the autocast fix was written for
MMCV_RANGE = ((2, 0, 0), (2, 2, 0))


def _float32_on_cpu(*tensors):
    """Cast reduced-precision CPU tensors to float32 (others unchanged)."""
    return tuple(t.float() if isinstance(t, torch.Tensor) and t.device.type == 'cpu'
                 and t.dtype in (torch.bfloat16, torch.float16) else t for t in tensors)


def patch_mmcv_cpu_ops_for_autocast() -> bool:
    """mmcv's CPU kernels of ``nms`` and ``RoIAlign`` accept float32 only and raise
    ``expected scalar type Float but found BFloat16`` under CPU autocast (``--amp``). Run them
    in float32 when they get bf16 / fp16 CPU tensors, RoIAlign returning the input's dtype (the
    casts are differentiable, so gradients reach the bf16 features); float32 and GPU inputs take
    the original code path.

    Applied by ``tools/train.py`` when it trains under autocast
    (:func:`ltr_plugins.launch.enable_autocast_ops`), for mmcv in :data:`MMCV_RANGE` (mmcv
    2.1.0, ``mmcv/ops/csrc/pytorch/cpu/``: ``nms.cpp`` reads ``data_ptr<float>()``, lines
    23-27; ``roi_align.cpp`` dispatches ``AT_DISPATCH_FLOATING_TYPES_AND_HALF``, lines 394 and
    422, which has no bfloat16).
    Returns whether the ops are patched (False without mmcv, its compiled ops, or outside the
    range)."""
    if importlib.util.find_spec('mmcv') is None or not version_in_range(
            'the float32 CPU nms / RoIAlign under autocast', 'mmcv', *MMCV_RANGE):
        return False
    try:  # (mmcv.ops re-exports functions named like these modules: import the modules)
        nms_module = importlib.import_module('mmcv.ops.nms')
        roi_align_module = importlib.import_module('mmcv.ops.roi_align')
    except ImportError:  # mmcv without compiled ops
        return False
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
    return True


def patch_mmengine_atomic_local_writes() -> bool:
    """mmengine's ``LocalBackend.put`` / ``put_text`` (checkpoints, via ``save_checkpoint``)
    open the target with ``'wb'`` and write into it: a run killed while saving leaves a
    truncated ``epoch_N.pth`` under its final name. Write a temporary file in the same folder
    and ``os.replace`` it there (:mod:`ltr_plugins.fileio`), so the target is either the old
    file or the complete new one (fix 2 of the module docstring; a tool-side fix). Returns
    whether the backend writes atomically (False without mmengine or outside
    :data:`MMENGINE_RANGE`, warned)."""
    if not version_in_range('atomic checkpoint writes', 'mmengine', *MMENGINE_RANGE):
        return False
    from mmengine.fileio.backends.local_backend import LocalBackend
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


def apply_tool_fixes() -> Dict[str, bool]:
    """The fixes this package's tools apply before they read a config (fixes 1-3 of the module
    docstring): safe checkpoint loading, atomic checkpoint writes, ``ltr_plugins::`` config
    names. ``import ltr_plugins`` does none of this. Idempotent.

    Returns:
        ``{fix name: applied}``; a fix is not applied when its package is missing or not a
        version it was written for (warned).
    """
    from .mim import enable_config_names
    return {'safe_checkpoint_loader': register_safe_checkpoint_loader(),
            'atomic_local_writes': patch_mmengine_atomic_local_writes(),
            'config_names': enable_config_names()}
