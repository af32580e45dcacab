"""Inverse Image Frequency (IIF) logit adjustment.

Each class logit is multiplied by a fixed weight that grows as the class gets rarer:
``z'_c = w_c * z_c`` during training *and* inference (the weights are a buffer, saved with the
model). ``n_c`` is the number of training images containing class ``c`` and ``N`` the number of
training images; ``*_obj`` variants use instance counts and the total instance count instead.

==========  ==================================
variant     ``w_c``
==========  ==================================
raw         ``ln(N / n_c)``
smooth      ``ln((N + 1) / (n_c + 1)) + 1``
rel, prob   ``ln((N - n_c) / n_c)``
normit      ``-Phi^-1(n_c / N)`` (standard normal quantile)
gombit      ``-ln(-ln(1 - n_c / N))``
base2       ``log2(N / n_c)``
base10      ``log10(N / n_c)``
==========  ==================================

Apply the weights to the logits *after* a cosine product: scaling a cosine classifier's weight
rows by IIF and then L2-normalising them cancels the IIF factor.
"""
from __future__ import annotations

import math
import warnings
from typing import Optional, Protocol, Sequence, Union

import numpy as np
import torch
from torch import Tensor, nn

_BASE_VARIANTS = ('raw', 'smooth', 'rel', 'prob', 'normit', 'gombit', 'base2', 'base10')
#: Every accepted variant name; ``*_obj`` = same formula on instance-level counts.
IIF_VARIANTS = _BASE_VARIANTS + tuple(v + '_obj' for v in _BASE_VARIANTS)

ArrayLike = Union[Tensor, np.ndarray, Sequence[float]]


class ClassCounts(Protocol):
    """The per-class training counts IIF reads (:class:`ltr_plugins.datasets.ClassStats` has
    them; the core takes counts, the adapters resolve a ``stats`` file or table name)."""

    classes: Sequence[str]
    image_counts: ArrayLike      # (K,) images containing each class
    instance_counts: ArrayLike   # (K,) instances of each class
    num_images: int              # N of the image-level variants

    @property
    def num_instances(self) -> int:
        """N of the ``*_obj`` variants."""


def _base_variant(variant: str) -> str:
    if variant not in IIF_VARIANTS:
        raise ValueError(f'unknown IIF variant {variant!r}; valid variants: '
                         f'{", ".join(IIF_VARIANTS)}')
    base = variant[:-4] if variant.endswith('_obj') else variant
    return 'rel' if base == 'prob' else base


def _describe(idx: Tensor, class_names: Optional[Sequence[str]], limit: int = 10) -> str:
    """Readable list of the classes at ``idx`` (names when known, else indices)."""
    idx = idx.tolist()
    items = [repr(class_names[i]) if class_names is not None else f'index {i}'
             for i in idx[:limit]]
    more = f' and {len(idx) - limit} more' if len(idx) > limit else ''
    return ', '.join(items) + more


def iif_weights(counts: ArrayLike, num_total: int, variant: str = 'raw',
                p_norm: Optional[float] = None, clamp_negative: bool = False,
                class_names: Optional[Sequence[str]] = None) -> Tensor:
    """IIF weight of each class.

    Args:
        counts: (K,) per-class image counts (instance counts for ``*_obj`` variants; the formula
            is the same, the caller picks the counts — see :func:`iif_weights_from_stats`).
        num_total: ``N``, the number of training images (total instances for ``*_obj``).
            For LVIS this is the number of images, not the sum of ``counts``.
        variant: one of :data:`IIF_VARIANTS`.
        p_norm: if given, return ``w / ||w||_p`` (e.g. 1 or 2).
        clamp_negative: clamp negative weights to 0. Negative weights (a class in more than
            half of the images for ``rel`` / ``normit``) would flip the sign of that class's
            logit, so they are always reported with a warning and never changed silently.
        class_names: (K,) names used in error and warning messages.

    Returns:
        (K,) float32 tensor (computed in float64).

    Raises:
        ValueError: unknown variant, counts outside ``[0, N]``, a zero count for a variant
            other than ``smooth`` (log of infinity), or a count equal to ``N`` for
            ``rel`` / ``normit`` / ``gombit`` (weight ``-inf``).
    """
    base = _base_variant(variant)
    n = torch.as_tensor(counts, dtype=torch.float64).flatten()
    if class_names is not None and len(class_names) != n.numel():
        raise ValueError(f'{len(class_names)} class names for {n.numel()} counts')
    if not (num_total > 0):
        raise ValueError(f'num_total (N) must be positive, got {num_total}')
    if n.numel() == 0:
        raise ValueError('counts is empty')
    if (n != n.round()).any() or (n < 0).any():
        bad = torch.nonzero((n != n.round()) | (n < 0)).flatten()
        raise ValueError(f'counts must be non-negative integers; bad class(es): '
                         f'{_describe(bad, class_names)}')
    if (n > num_total).any():
        bad = torch.nonzero(n > num_total).flatten()
        raise ValueError(f'count exceeds num_total={num_total} for class(es) '
                         f'{_describe(bad, class_names)} (did you pass the sum of per-class '
                         f'counts, or image counts with an instance total?)')
    if base != 'smooth' and (n == 0).any():
        bad = torch.nonzero(n == 0).flatten()
        raise ValueError(f'IIF variant {variant!r} is undefined for a zero count; classes with '
                         f'no training samples: {_describe(bad, class_names)}. Use the '
                         f"'smooth' variant (ln((N+1)/(n+1))+1), which handles zero counts")
    if base in ('rel', 'normit', 'gombit') and (n == num_total).any():
        bad = torch.nonzero(n == num_total).flatten()
        raise ValueError(f'IIF variant {variant!r} gives weight -inf for classes present in '
                         f'every one of the N={num_total} samples: '
                         f'{_describe(bad, class_names)}; use raw or smooth')

    N = float(num_total)
    if base == 'raw':
        w = torch.log(N / n)
    elif base == 'smooth':
        w = torch.log((N + 1) / (n + 1)) + 1
    elif base == 'rel':
        w = torch.log((N - n) / n)
    elif base == 'normit':
        w = -torch.special.ndtri(n / N)
    elif base == 'gombit':
        w = -torch.log(-torch.log1p(-n / N))
    elif base == 'base2':
        w = torch.log2(N / n)
    else:  # base10
        w = torch.log10(N / n)

    neg = torch.nonzero(w < 0).flatten()
    if neg.numel():
        action = ('clamped to 0 (their logits become constant 0)' if clamp_negative else
                  'left negative, which flips the sign of their logits; pass '
                  'clamp_negative=True to clamp them to 0')
        warnings.warn(f'IIF variant {variant!r} gives negative weights for {neg.numel()} '
                      f'class(es) (frequent classes, e.g. present in more than half of the '
                      f'samples for rel/normit): {_describe(neg, class_names)}; {action}',
                      stacklevel=2)
        if clamp_negative:
            w = w.clamp_min(0)
    if p_norm is not None:
        if not p_norm > 0:
            raise ValueError(f'p_norm must be positive, got {p_norm}')
        norm = torch.linalg.vector_norm(w, ord=p_norm)
        if not (norm > 0 and math.isfinite(norm)):
            raise ValueError(f'cannot L{p_norm}-normalise IIF weights with norm {norm.item()}')
        w = w / norm
    return w.to(torch.float32)


def iif_weights_from_stats(stats: ClassCounts, variant: str = 'raw', **kwargs) -> Tensor:
    """IIF weights of class statistics (e.g. a :class:`~ltr_plugins.datasets.ClassStats`).

    Image-level variants use ``stats.image_counts`` and ``stats.num_images``; ``*_obj``
    variants use ``stats.instance_counts`` and ``stats.num_instances``. ``kwargs`` go to
    :func:`iif_weights` (``p_norm``, ``clamp_negative``).
    """
    _base_variant(variant)  # fail early with the list of variants
    if variant.endswith('_obj'):
        counts, total = stats.instance_counts, stats.num_instances
    else:
        counts, total = stats.image_counts, stats.num_images
    kwargs.setdefault('class_names', stats.classes)
    return iif_weights(counts, total, variant, **kwargs)


class IIFLogitAdjustment(nn.Module):
    """Multiply logits by fixed per-class IIF weights: ``logits * weights``.

    The weights are a persistent buffer, so checkpoints carry them and a post-hoc or decoupled
    run uses exactly the weights of training.

    Args:
        weights: (K,) per-class weights (see :func:`iif_weights`).
        background: append a weight of exactly 1.0 for a trailing background logit (mmdet puts
            background last, with ``K + 1`` columns); the buffer then has K + 1 entries.
        variant: name shown in ``repr`` (informational only).

    Shape:
        logits: (..., K) or (..., K + 1) with ``background``; output has the same shape and
        dtype.
    """

    weights: Tensor

    def __init__(self, weights: Tensor, background: bool = False,
                 variant: Optional[str] = None) -> None:
        super().__init__()
        w = torch.as_tensor(weights, dtype=torch.float32).detach().clone().flatten()
        if not torch.isfinite(w).all():
            raise ValueError('IIF weights must be finite')
        if background:
            w = torch.cat([w, w.new_ones(1)])
        self.background = background
        self.variant = variant
        self.register_buffer('weights', w)

    @classmethod
    def from_stats(cls, stats: ClassCounts, variant: str = 'raw', background: bool = False,
                   **kwargs) -> 'IIFLogitAdjustment':
        """Build from class statistics; ``kwargs`` go to :func:`iif_weights`."""
        return cls(iif_weights_from_stats(stats, variant, **kwargs), background, variant)

    @property
    def num_classes(self) -> int:
        """K, not counting the background column."""
        return self.weights.numel() - int(self.background)

    def forward(self, logits: Tensor, columns: Optional[Tensor] = None) -> Tensor:
        """(..., K) logits (``(..., K + 1)`` with ``background``) -> ``logits * weights``,
        same shape and dtype; a mismatching last dimension raises ``ValueError``.

        With ``columns`` (K',) the logits are those of a column subset, (..., K'), and are
        multiplied by those columns' weights (a class subset, e.g. the LGR language branch)."""
        if columns is not None:
            return logits * self.weights.index_select(0, columns).to(logits.dtype)
        if logits.shape[-1] != self.weights.numel():
            bg = ' (K classes + 1 background)' if self.background else ''
            raise ValueError(f'IIFLogitAdjustment holds {self.weights.numel()} weights{bg} but '
                             f'logits have shape {tuple(logits.shape)} (last dim '
                             f'{logits.shape[-1]}); check num_classes and background=')
        return logits * self.weights.to(logits.dtype)

    def extra_repr(self) -> str:
        return f'variant={self.variant}, num_classes={self.num_classes}, ' \
               f'background={self.background}'


def build_iif(num_classes: int, stats: ClassCounts, variant: str = 'raw',
              background: bool = False, **kwargs) -> IIFLogitAdjustment:
    """IIF adjustment for a head with ``num_classes`` classes.

    Args:
        num_classes: K of the head (without background).
        stats: class statistics with counts (:class:`ClassCounts`, e.g. a
            :class:`~ltr_plugins.datasets.ClassStats`). A file or packaged-table name is
            resolved by the adapters (:func:`ltr_plugins.datasets.build_iif_from_config`, the
            ``iif=dict(stats=...)`` of the heads), not here.
        variant: see :data:`IIF_VARIANTS`.
        background: the head has a trailing background logit (kept at weight 1.0).
        kwargs: ``p_norm``, ``clamp_negative`` (see :func:`iif_weights`).
    """
    if not hasattr(stats, 'image_counts'):
        raise TypeError(f'build_iif takes class statistics with counts (e.g. a ClassStats), got '
                        f'{stats!r}; resolve a file or table name with '
                        'ltr_plugins.datasets.ClassStats.load or build_iif_from_config')
    if len(stats.classes) != num_classes:
        raise ValueError(f'IIF: class statistics {getattr(stats, "source", "")} have '
                         f'{len(stats.classes)} classes but the head has '
                         f'num_classes={num_classes}')
    return IIFLogitAdjustment.from_stats(stats, variant, background, **kwargs)


def adjust_logits(iif: Optional[IIFLogitAdjustment], logits: Tensor,
                  columns: Optional[Tensor] = None) -> Tensor:
    """The optional IIF of a head: ``iif(logits, columns)``, or ``logits`` when ``iif`` is None
    (the one place heads with an optional ``iif=`` apply it)."""
    return logits if iif is None else iif(logits, columns)
