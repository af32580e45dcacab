"""Class-prior corrections of a trained classifier and inverse-frequency loss weights.

Three standard long-tail peers reduced to their formulas (the adapters resolve class counts
and wire them into heads and losses):

- **post-hoc logit adjustment** (Menon et al., *Long-tail learning via logit adjustment*,
  ICLR 2021, Sec. 4, post-hoc correction; public code: folder ``logit_adjustment`` of
  google-research/google-research):
  ``z'_c = z_c - tau * log(pi_c)`` with ``pi_c`` the training class prior; ``tau = 1`` is the
  paper's Bayes-consistent choice for the balanced error.
- **tau-normalisation** (Kang et al., *Decoupling Representation and Classifier for Long-Tailed
  Recognition*, ICLR 2020, Sec. 4; public code facebookresearch/classifier-balancing,
  ``tau_norm.py``, function ``pnorm``): each class weight row becomes ``w_c / ||w_c||^tau``
  (L2 norm); the reference computes the logits without the bias.
- **inverse-frequency class weights** for a re-weighted cross-entropy: ``w_c`` proportional to
  ``n_c^-power``, normalised to mean 1 so the loss keeps its scale on average over classes.
"""
from __future__ import annotations

from typing import Optional, Sequence, Union

import numpy as np
import torch
from torch import Tensor, nn

ArrayLike = Union[Tensor, np.ndarray, Sequence[float]]


def _counts(counts: ArrayLike, what: str, class_names: Optional[Sequence[str]] = None) -> Tensor:
    n = torch.as_tensor(counts, dtype=torch.float64).flatten()
    if n.numel() == 0:
        raise ValueError(f'{what}: counts is empty')
    bad = torch.nonzero(~torch.isfinite(n) | (n <= 0)).flatten().tolist()
    if bad:
        names = [repr(class_names[i]) if class_names is not None else f'index {i}'
                 for i in bad[:10]]
        raise ValueError(f'{what} needs a positive training count for every class; zero or '
                         f'invalid count for class(es) {", ".join(names)}'
                         + (f' and {len(bad) - 10} more' if len(bad) > 10 else ''))
    return n


def class_log_prior(counts: ArrayLike, class_names: Optional[Sequence[str]] = None) -> Tensor:
    """``log(pi_c)`` with ``pi_c = n_c / sum_j n_j``, the empirical training class prior.

    Args:
        counts: (K,) training samples per class (all positive).
        class_names: (K,) names for error messages.

    Returns:
        (K,) float32 tensor (computed in float64).
    """
    n = _counts(counts, 'the class prior', class_names)
    return torch.log(n / n.sum()).to(torch.float32)


def logit_adjust(logits: Tensor, log_prior: Tensor, tau: float = 1.0) -> Tensor:
    """Post-hoc logit adjustment (Menon et al., ICLR 2021): ``logits - tau * log_prior``.

    Args:
        logits: (..., K) class logits.
        log_prior: (K,) ``log(pi_c)`` (see :func:`class_log_prior`).
        tau: adjustment strength (1 = the paper's default).

    Returns:
        (..., K) adjusted logits, dtype of ``logits``.
    """
    if logits.shape[-1] != log_prior.numel():
        raise ValueError(f'logit adjustment: the prior has {log_prior.numel()} classes but the '
                         f'logits have shape {tuple(logits.shape)}')
    return logits - tau * log_prior.to(device=logits.device, dtype=logits.dtype)


def tau_normalize(weight: Tensor, tau: float = 1.0) -> Tensor:
    """Tau-normalisation of a linear classifier (Kang et al., ICLR 2020):
    ``w_c / ||w_c||_2 ** tau`` row by row.

    Args:
        weight: (K, D) classifier weight, one row per class.
        tau: 0 leaves the weights unchanged, 1 gives unit-norm rows.

    Returns:
        (K, D) tensor whose row c has norm ``||w_c|| ** (1 - tau)``.
    """
    if weight.dim() != 2:
        raise ValueError(f'tau_normalize takes a (K, D) weight, got shape {tuple(weight.shape)}')
    norms = torch.linalg.vector_norm(weight, dim=1, keepdim=True)
    if (norms == 0).any():
        rows = torch.nonzero(norms.flatten() == 0).flatten().tolist()
        raise ValueError(f'tau_normalize: zero weight row(s) {rows[:10]} have no direction')
    return weight / norms.pow(tau)


def inverse_frequency_weights(counts: ArrayLike, power: float = 1.0,
                              class_names: Optional[Sequence[str]] = None) -> Tensor:
    """Per-class loss weights ``K * n_c^-power / sum_j n_j^-power`` (mean 1).

    Args:
        counts: (K,) training samples per class (all positive).
        power: 1 = inverse frequency, 0.5 = inverse square root, 0 = all ones.
        class_names: (K,) names for error messages.

    Returns:
        (K,) float32 tensor.
    """
    n = _counts(counts, 'inverse-frequency weights', class_names)
    w = n.pow(-float(power))
    return (w * n.numel() / w.sum()).to(torch.float32)


class LogitAdjustment(nn.Module):
    """``logits - tau * log(pi)`` with the log prior as a buffer.

    The buffer is not persistent (not in ``state_dict``): a head with this module has exactly
    the parameters of its plain counterpart, so the plain model's checkpoint loads whole and the
    prior always comes from the configured training statistics.

    Args:
        log_prior: (K,) ``log(pi_c)`` (see :func:`class_log_prior`).
        tau: adjustment strength.

    Shape:
        logits: (..., K) -> (..., K).
    """

    log_prior: Tensor

    def __init__(self, log_prior: Tensor, tau: float = 1.0) -> None:
        super().__init__()
        log_prior = torch.as_tensor(log_prior, dtype=torch.float32).detach().clone().flatten()
        if not torch.isfinite(log_prior).all():
            raise ValueError('the log prior must be finite (every class needs a training count)')
        self.tau = float(tau)
        self.register_buffer('log_prior', log_prior, persistent=False)

    @classmethod
    def from_counts(cls, counts: ArrayLike, tau: float = 1.0,
                    class_names: Optional[Sequence[str]] = None) -> 'LogitAdjustment':
        """Build from (K,) training counts per class."""
        return cls(class_log_prior(counts, class_names), tau)

    def forward(self, logits: Tensor) -> Tensor:
        """(..., K) logits -> (..., K) ``logits - tau * log_prior``."""
        return logit_adjust(logits, self.log_prior, self.tau)

    def extra_repr(self) -> str:
        return f'num_classes={self.log_prior.numel()}, tau={self.tau}'
