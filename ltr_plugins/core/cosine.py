"""Normalised, scaled ("cosine") classifiers: ``y = s * (x / ||x||) . (W / ||W||)^T (+ b)``.

Used by the normalized bbox/cls heads (mmdet ``NormedLinear`` style, s = 20, or 8 with IIF),
CAMC (a tuned s), OLTR and the IIF reference's classification runs (``squash=True``: the unit
input is scaled by ``||x|| / (1 + ||x||)``, s = 16). :class:`CosineConv2d` is the per-pixel
version for mask predictors.

Numerics: norms are computed in float32 as ``sqrt(max(sum(x^2), eps^2))`` so fp16/bf16 inputs
neither overflow nor underflow; vectors with norm ``<= eps`` (zero inputs, zero weight rows) give
zero output and zero gradient instead of the ``1/eps`` gradient of ``x / max(||x||, eps)``;
the unit vectors (entries in [-1, 1]) are cast back to the input dtype for the product, and the
output has the input's dtype.
"""
from __future__ import annotations

import math
from typing import Optional, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def l2_normalize(x: Tensor, dim: int = -1, eps: float = 1e-6, squash: bool = False) -> Tensor:
    """``x / ||x||`` along ``dim``, computed in float32 (returned in float32).

    Vectors with ``||x|| <= eps`` map to 0 with zero gradient. With ``squash`` the unit vector
    is further scaled by ``||x|| / (1 + ||x||)`` (OLTR CosNorm).
    """
    x32 = x.float()
    sq = (x32 * x32).sum(dim, keepdim=True)
    # clamp the squared norm (not the norm) so the sqrt's gradient stays finite at 0
    norm = sq.clamp_min(eps * eps).sqrt()
    # A (near-)zero vector has no direction: map it to 0 with a zero gradient. Plain
    # x / max(|x|, eps) would give it a 1/eps = 1e6 gradient, which overflows fp16 (AMP) and
    # happens in practice (all-zero post-ReLU pixels in a mask head).
    out = torch.where(sq > eps * eps, x32 / norm, 0.0)
    if squash:
        out = out * (norm / (1 + norm))
    return out


def cosine_logits(x: Tensor, weight: Tensor, scale: Union[float, Tensor] = 16.0,
                  eps: float = 1e-6, squash: bool = False,
                  bias: Optional[Tensor] = None) -> Tensor:
    """Scaled cosine similarity of features and class weights.

    Args:
        x: (..., D) features.
        weight: (K, D) class weight rows.
        scale: s, a float or a 0-dim tensor.
        eps: lower bound of the norms (zero vectors map to zero logits).
        squash: OLTR CosNorm input squashing ``||x|| / (1 + ||x||)``.
        bias: optional (K,) bias added after scaling.

    Returns:
        (..., K) logits in ``x.dtype``.
    """
    if weight.dim() != 2 or weight.shape[1] != x.shape[-1]:
        raise ValueError(f'cosine_logits: weight of shape {tuple(weight.shape)} does not match '
                         f'features of shape {tuple(x.shape)} (expected (K, {x.shape[-1]}))')
    dtype = x.dtype
    out = F.linear(l2_normalize(x, -1, eps, squash).to(dtype),
                   l2_normalize(weight, -1, eps).to(dtype))
    return _scale_and_bias(out, scale, bias, dtype, channel_dim=-1)


def _scale_and_bias(out: Tensor, scale: Union[float, Tensor], bias: Optional[Tensor],
                    dtype: torch.dtype, channel_dim: int) -> Tensor:
    out = out * (scale.to(out.dtype) if isinstance(scale, Tensor) else scale)
    if bias is not None:
        shape = [1] * out.dim()
        shape[channel_dim] = -1
        out = out + bias.to(out.dtype).view(shape)
    return out.to(dtype)


SCALE_PARAMS = ('log', 'sqrt')


class _ScaleMixin:
    """Fixed scale (a float) or a learnable one, parameterised by ``scale_param``:

    - ``'log'``: a parameter ``log_scale`` with ``s = exp(log_scale)`` (s > 0 whatever the
      optimiser does);
    - ``'sqrt'``: a parameter ``scale_sqrt`` with ``s = scale_sqrt ** 2`` — the IIF reference's
      ``lr_cosine`` classifier (kostas1515/iif ``classification/resnet_cifar.py``,
      ``CosNorm_Classifier``, lines 56-57 and 75-76: ``Parameter(5.0)``, logits times
      ``scale ** 2``), so ``scale=25`` starts from its s0 = 5.
    """

    def _init_scale(self, scale: float, learnable: bool, scale_param: str = 'log') -> None:
        if not (scale > 0 and math.isfinite(scale)):
            raise ValueError(f'scale must be a positive finite number, got {scale}')
        if scale_param not in SCALE_PARAMS:
            raise ValueError(f'scale_param must be one of {SCALE_PARAMS}, got {scale_param!r}')
        self.learnable_scale, self.scale_param = learnable, scale_param
        if not learnable:
            self._fixed_scale = float(scale)
        elif scale_param == 'log':
            self.log_scale = nn.Parameter(torch.tensor(math.log(scale)))
        else:
            self.scale_sqrt = nn.Parameter(torch.tensor(math.sqrt(scale)))

    @property
    def scale(self) -> Union[float, Tensor]:
        """s: a float when fixed, a 0-dim tensor (differentiable) when learnable."""
        if not self.learnable_scale:
            return self._fixed_scale
        return self.log_scale.exp() if self.scale_param == 'log' else self.scale_sqrt.square()

    def _scale_repr(self) -> str:
        scale = self.scale
        scale = float(scale.detach()) if isinstance(scale, Tensor) else scale
        learnable = f"'{self.scale_param}'" if self.learnable_scale else 'False'
        return f'scale={scale:.4g}, learnable_scale={learnable}'


class CosineClassifier(_ScaleMixin, nn.Module):
    """Linear layer on L2-normalised features and weight rows, times a scale.

    Args:
        in_features: D.
        out_features: K.
        scale: s (temperature); 16 (OLTR) by default, mmdet's NormedLinear uses 20.
        learnable_scale: learn s (parameterised by ``scale_param``).
        scale_param: ``'log'`` (default): learn ``log s``, so s stays positive; ``'sqrt'``:
            learn ``sqrt(s)`` and use its square, as the IIF reference's ``lr_cosine``
            classifier (``scale=25`` = its s0 = 5). Ignored when the scale is fixed.
        bias: add a learnable (K,) bias (initialised to 0) after scaling.
        squash: OLTR CosNorm: scale the unit input by ``||x|| / (1 + ||x||)``.
        eps: lower bound of the norms.
        init_std: weight init. ``None`` (default): uniform in ``±1/sqrt(D)`` (OLTR's CosNorm
            init, the scale of ``nn.Linear``) — rows of norm ~0.6, so the normalisation's
            gradient ``1/||w||`` stays moderate. A float gives ``normal(0, init_std)``
            (mmdet's NormedLinear uses 0.01, which makes the first steps on the direction of
            each row ~100x larger). The output itself does not depend on the row norms.

    Shape:
        x: (..., D) -> (..., K), same dtype as ``x``.
    """

    def __init__(self, in_features: int, out_features: int, scale: float = 16.0,
                 learnable_scale: bool = False, bias: bool = False, squash: bool = False,
                 eps: float = 1e-6, init_std: Optional[float] = None,
                 scale_param: str = 'log') -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.squash, self.eps, self.init_std = squash, eps, init_std
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        if bias:
            self.bias = nn.Parameter(torch.empty(out_features))
        else:
            self.register_parameter('bias', None)
        self._init_scale(scale, learnable_scale, scale_param)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Weight rows uniform in ``±1/sqrt(D)`` (``init_std=None``) or ``normal(0, init_std)``;
        bias 0."""
        if self.init_std is None:
            bound = 1 / math.sqrt(self.in_features)
            nn.init.uniform_(self.weight, -bound, bound)
        else:
            nn.init.normal_(self.weight, 0, self.init_std)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def forward(self, x: Tensor) -> Tensor:
        """(..., D) features -> (..., K) scaled cosine logits in ``x.dtype``."""
        return cosine_logits(x, self.weight, self.scale, self.eps, self.squash, self.bias)

    def extra_repr(self) -> str:
        return (f'in_features={self.in_features}, out_features={self.out_features}, '
                f'{self._scale_repr()}, bias={self.bias is not None}, squash={self.squash}, '
                f'eps={self.eps}')


class CosineConv2d(_ScaleMixin, nn.Conv2d):
    """Conv2d with L2-normalised filters and per-pixel L2-normalised input (over channels),
    times a scale — a drop-in for mmdet's ``NormedConv2d`` (mask predictor, s = 20).

    Each output filter is normalised over all its weights ``(C_in / groups, kh, kw)``; the input
    is normalised per pixel over channels. For a 1x1 kernel this is exactly
    :class:`CosineClassifier` applied at every pixel.

    Args:
        in_channels, out_channels, kernel_size: as ``nn.Conv2d`` (kernel 1 by default).
        scale, learnable_scale, scale_param, squash, eps: as :class:`CosineClassifier`.
        bias: as ``nn.Conv2d`` (default True, like mmdet's mask predictor); added after scaling.
        **kwargs: other ``nn.Conv2d`` arguments (stride, padding, groups, ...). The weights keep
            ``nn.Conv2d``'s default init.

    Shape:
        x: (N, C_in, H, W) -> (N, C_out, H', W'), same dtype as ``x``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size=1,
                 scale: float = 20.0, learnable_scale: bool = False, bias: bool = True,
                 squash: bool = False, eps: float = 1e-6, scale_param: str = 'log',
                 **kwargs) -> None:
        super().__init__(in_channels, out_channels, kernel_size, bias=bias, **kwargs)
        self.squash, self.eps = squash, eps
        self._init_scale(scale, learnable_scale, scale_param)

    def forward(self, x: Tensor) -> Tensor:
        """(N, C_in, H, W) -> (N, C_out, H', W') scaled per-pixel cosine responses."""
        dtype = x.dtype
        w = l2_normalize(self.weight.flatten(1), -1, self.eps).view_as(self.weight)
        out = self._conv_forward(l2_normalize(x, 1, self.eps, self.squash).to(dtype),
                                 w.to(dtype), None)
        return _scale_and_bias(out, self.scale, self.bias, dtype, channel_dim=1)

    def extra_repr(self) -> str:
        return f'{super().extra_repr()}, {self._scale_repr()}, squash={self.squash}, ' \
               f'eps={self.eps}'
