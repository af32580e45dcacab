"""Mixed precision without loss scaling (bf16), usable on CPU.

mmengine's ``AmpOptimWrapper`` asserts a GPU / NPU / MLU / MUSA device. bf16 has fp32's
exponent range, so it needs no loss scaler; this wrapper only runs the forward pass under
``torch.autocast`` on the model's device. ``tools/train.py --amp`` selects it on CPU.
"""
from contextlib import contextmanager

import torch
from mmengine.optim import OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class AutocastOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose forward runs under ``torch.autocast(device, dtype)``.

    Args:
        dtype: autocast dtype, ``'bfloat16'`` (default; the only one CPU autocast supports)
            or ``'float16'`` on GPUs (prefer mmengine's ``AmpOptimWrapper`` there: fp16
            needs loss scaling).
        **kwargs: as ``OptimWrapper``.
    """

    def __init__(self, dtype: str = 'bfloat16', **kwargs) -> None:
        super().__init__(**kwargs)
        if dtype not in ('bfloat16', 'float16'):
            raise ValueError(f"AutocastOptimWrapper dtype must be 'bfloat16' or 'float16', "
                             f'got {dtype!r}')
        self.cast_dtype = getattr(torch, dtype)

    @contextmanager
    def optim_context(self, model: torch.nn.Module):
        device = next(model.parameters()).device.type
        with super().optim_context(model), torch.autocast(device, dtype=self.cast_dtype):
            yield
