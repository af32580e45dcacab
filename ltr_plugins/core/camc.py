"""CAMC: class activation map calibration (reconstruction of Zhang et al., arXiv 2108.12757).

Only the paper's abstract is public; the module below is this package's reconstruction
(docs/methods/camc.md lists every choice and why). For a feature map ``F`` (B, C, H, W)
before pooling and the (K, C) weight rows ``W`` of a cosine classifier:

1. first (uncalibrated) pass: ``z0 = classifier(GAP(F))``;
2. target direction per sample: ``t = sum_k a_k * w_k / |w_k|`` over the ground truth
   (training, ``a = 1``) or over the top-k classes of ``softmax(z0)`` with their
   renormalised probabilities ``a`` (inference, or training without labels);
3. class activation map ``CAM(i, j) = t . F(i, j) / |F(i, j)|`` — the probability-weighted mix
   of the top-k cosine CAMs, computed as one map because the mix is linear;
4. correlation map ``R(i, j) = p . F(i, j) / |F(i, j)|`` with ``p`` the same mix of the unit
   momentum class prototypes (EMA of the unit pooled features of each class, buffers,
   synchronised across DDP ranks as sums and counts);
5. calibration map ``A = combine(norm(ReLU(CAM)), norm(ReLU(R)))`` in [0, 1], ``norm`` dividing
   by the per-image spatial maximum; calibrated features ``F' = F * (1 + lambda * A)``;
6. second pass on ``F'`` (classification: ``classifier(GAP(F'))``; detection: the bbox head's
   flatten + shared FCs); loss on the calibrated logits plus ``aux_weight`` times the loss on
   ``z0``.

``lambda = 0`` gives ``F' = F``: the calibrated logits equal a plain cosine head's.
"""
from __future__ import annotations

from typing import Callable, NamedTuple, Optional, Tuple

import torch
from torch import Tensor, nn

from .cosine import l2_normalize
from .distributed import all_reduce_class_sums

COMBINE_MODES = ('mean', 'product')
TRAIN_TARGETS = ('gt', 'pred')


class CAMCOutput(NamedTuple):
    """What one CAMC forward produces (shapes for B samples, K classes, C x H x W maps).

    Attributes:
        feats: (B, C, H, W) calibrated features ``F * (1 + lambda * A)``.
        calibration: (B, H, W) calibration map A in [0, 1].
        cam: (B, H, W) normalised target-class activation map in [0, 1].
        correlation: (B, H, W) normalised prototype correlation map in [0, 1].
        target_classes: (B, k) classes whose CAMs were mixed.
        target_weights: (B, k) their mixing weights (rows sum to 1).
        aux_logits: (B, K) logits of the first, uncalibrated pass (None if not computed here).
        logits: (B, K) logits of the calibrated pooled features (classification only).
        pooled: (B, C) pooled calibrated features (classification only).
    """
    feats: Tensor
    calibration: Tensor
    cam: Tensor
    correlation: Tensor
    target_classes: Tensor
    target_weights: Tensor
    aux_logits: Optional[Tensor] = None
    logits: Optional[Tensor] = None
    pooled: Optional[Tensor] = None


def class_activation_maps(feats: Tensor, weight: Tensor, classes: Tensor,
                          eps: float = 1e-6) -> Tensor:
    """Cosine CAMs ``M_k(i, j) = w_k . F(i, j) / (|w_k| |F(i, j)|)`` of chosen classes.

    Args:
        feats: (B, C, H, W) feature maps.
        weight: (K, C) classifier weight rows.
        classes: (B, k) class indices per sample.
        eps: norm guard (zero pixels / rows give 0).

    Returns:
        (B, k, H, W) float32 maps in [-1, 1].
    """
    unit_w = l2_normalize(weight, -1, eps)[classes]            # (B, k, C)
    return torch.einsum('bchw,bkc->bkhw', l2_normalize(feats, 1, eps), unit_w)


def select_targets(logits: Tensor, labels: Optional[Tensor] = None,
                   topk: int = 1) -> Tuple[Tensor, Tensor]:
    """Classes whose CAMs calibrate each sample, and their mixing weights.

    Args:
        logits: (B, K) first-pass logits.
        labels: (B,) ground truth, the only target (weight 1); or (B, K) soft labels
            (mixup / cutmix scores): their top-k classes weighted by the renormalised scores.
        topk: k: without labels the top-k classes of ``softmax(logits)``, weighted by their
            probabilities renormalised to sum 1.

    Returns:
        classes (B, k) long and weights (B, k) float32 (k = 1 with hard labels).
    """
    if labels is not None and labels.dim() == 1:
        labels = labels.long().view(-1, 1)
        return labels, torch.ones(labels.shape, dtype=torch.float32, device=labels.device)
    scores = labels.float() if labels is not None else logits.detach().float().softmax(-1)
    probs, classes = scores.topk(min(topk, scores.shape[1]), dim=-1)
    return classes, probs / probs.sum(-1, keepdim=True).clamp_min(1e-12)


def normalize_map(m: Tensor, eps: float = 1e-6) -> Tensor:
    """``ReLU(m) / max_ij ReLU(m)`` per map: (B, H, W) -> [0, 1] (all-non-positive -> 0)."""
    m = m.clamp_min(0)
    peak = m.flatten(1).amax(1).view(-1, 1, 1)
    return m / peak.clamp_min(eps)


class CAMCalibration(nn.Module):
    """Class activation map calibration with momentum class prototypes.

    The classifier is not owned: its weight rows (K, C) are passed to each call (the head owns
    the classifier; CAMs and logits then share it).

    Args:
        num_classes: K, columns of the classifier (detection: including background).
        in_channels: C, channels of the feature map (= classifier input).
        lam: lambda in ``F' = F * (1 + lambda * A)``; 0 turns calibration off.
        topk: k of the inference target mix.
        momentum: m of the prototype update ``P_k <- m P_k + (1 - m) mean_k``.
        corr_weight: beta, the weight of the correlation map in ``combine='mean'``.
        combine: ``'mean'``: ``(1 - beta) CAM + beta R``; ``'product'``: ``sqrt(CAM * R)``
            (a region must be both class-discriminative and prototype-like).
        detach_map: stop the gradient through A (the map then only re-weights F).
        aux_weight: weight of the loss on the uncalibrated logits.
        train_target: ``'gt'`` (default, the spec): calibrate training samples towards their
            ground truth; ``'pred'``: towards the first pass's top-k, as at inference (labels
            then only update the prototypes) — no train / test mismatch, no label signal in F'.
        eps: norm guard.

    Buffers (saved in checkpoints): ``prototypes`` (K, C) class prototypes (EMA of unit pooled
    features), ``prototype_counts`` (K,) samples seen per class (0: no prototype yet).
    """

    def __init__(self, num_classes: int, in_channels: int, lam: float = 1.0, topk: int = 3,
                 momentum: float = 0.9, corr_weight: float = 0.5, combine: str = 'mean',
                 detach_map: bool = True, aux_weight: float = 0.5, train_target: str = 'gt',
                 eps: float = 1e-6) -> None:
        super().__init__()
        if combine not in COMBINE_MODES:
            raise ValueError(f'CAMC combine must be one of {COMBINE_MODES}, got {combine!r}')
        if train_target not in TRAIN_TARGETS:
            raise ValueError(f'CAMC train_target must be one of {TRAIN_TARGETS}, got '
                             f'{train_target!r}')
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f'CAMC momentum must be in [0, 1), got {momentum}')
        if not 0.0 <= corr_weight <= 1.0:
            raise ValueError(f'CAMC corr_weight must be in [0, 1], got {corr_weight}')
        if lam < 0 or topk < 1 or aux_weight < 0:
            raise ValueError(f'CAMC needs lam >= 0, topk >= 1, aux_weight >= 0; got lam={lam}, '
                             f'topk={topk}, aux_weight={aux_weight}')
        self.num_classes, self.in_channels = num_classes, in_channels
        self.lam, self.topk, self.momentum = float(lam), int(topk), float(momentum)
        self.corr_weight, self.combine = float(corr_weight), combine
        self.detach_map, self.aux_weight, self.eps = detach_map, float(aux_weight), eps
        self.train_target = train_target
        self.register_buffer('prototypes', torch.zeros(num_classes, in_channels))
        self.register_buffer('prototype_counts', torch.zeros(num_classes, dtype=torch.long))

    # ------------------------------------------------------------------ prototypes
    @torch.no_grad()
    def update_prototypes(self, pooled: Tensor, labels: Tensor) -> None:
        """EMA of the unit pooled features per class over the global (all-rank) batch.

        Every rank must call this the same number of times (it all-reduces). A class seen for
        the first time takes its batch mean; classes absent from the global batch keep theirs.

        Args:
            pooled: (B, C) uncalibrated pooled features.
            labels: (B,) their classes.
        """
        unit = l2_normalize(pooled.detach(), -1, self.eps)
        labels = labels.long()
        sums = unit.new_zeros(self.prototypes.shape).index_add_(0, labels, unit)  # float32
        counts = torch.bincount(labels, minlength=self.num_classes).to(self.prototype_counts)
        sums, counts = all_reduce_class_sums(sums, counts)
        seen = counts > 0
        means = sums[seen] / counts[seen, None].to(sums.dtype)
        fresh = (self.prototype_counts[seen] == 0)[:, None]
        old = self.prototypes[seen].float()
        self.prototypes[seen] = torch.where(
            fresh, means, self.momentum * old + (1 - self.momentum) * means).to(self.prototypes)
        self.prototype_counts += counts

    # ------------------------------------------------------------------ maps
    def calibrate(self, feats: Tensor, weight: Tensor, first_logits: Tensor,
                  labels: Optional[Tensor] = None) -> CAMCOutput:
        """Calibration map and calibrated features; updates the prototypes when training with
        labels (after using them, so a sample never correlates with itself).

        Args:
            feats: (B, C, H, W) feature maps.
            weight: (K, C) classifier weight rows (the CAM classifier).
            first_logits: (B, K) uncalibrated logits (target choice without labels).
            labels: (B,) ground truth or (B, K) soft labels (prototypes then follow the
                argmax), or None (inference).
        """
        if feats.dim() != 4 or feats.shape[1] != self.in_channels:
            raise ValueError(f'CAMC expects (B, {self.in_channels}, H, W) feature maps before '
                             f'pooling, got shape {tuple(feats.shape)} (is a pooling neck '
                             'still in the config?)')
        if weight.shape != (self.num_classes, self.in_channels):
            raise ValueError(f'CAMC classifier weight has shape {tuple(weight.shape)}, expected '
                             f'({self.num_classes}, {self.in_channels})')
        classes, mix = select_targets(
            first_logits, labels if self.train_target == 'gt' else None, self.topk)
        unit_feats = l2_normalize(feats, 1, self.eps)  # (B, C, H, W), float32
        # the top-k mix of CAMs is linear: mix the unit weight rows, then one map per sample
        target_dir = (l2_normalize(weight, -1, self.eps)[classes] * mix[..., None]).sum(1)
        cam = torch.einsum('bchw,bc->bhw', unit_feats, target_dir)
        has_proto = (self.prototype_counts > 0).float()[classes]  # (B, k)
        unit_protos = l2_normalize(self.prototypes, -1, self.eps)[classes]  # (B, k, C)
        proto_dir = (unit_protos * (mix * has_proto)[..., None]).sum(1)
        corr = torch.einsum('bchw,bc->bhw', unit_feats, proto_dir)
        cam, corr = normalize_map(cam, self.eps), normalize_map(corr, self.eps)
        # share of the target mix that has a prototype: without one, A is the CAM alone
        avail = (mix * has_proto).sum(1).view(-1, 1, 1)
        if self.combine == 'mean':
            both = (1 - self.corr_weight) * cam + self.corr_weight * corr
        else:
            both = (cam * corr).clamp_min(0).sqrt()
        calibration = (1 - avail) * cam + avail * both
        if self.detach_map:
            calibration = calibration.detach()
        out_feats = feats * (1 + self.lam * calibration.to(feats.dtype)).unsqueeze(1)
        if self.training and labels is not None:
            hard = labels if labels.dim() == 1 else labels.argmax(1)
            self.update_prototypes(feats.mean((2, 3)), hard)
        return CAMCOutput(out_feats, calibration, cam, corr, classes, mix, first_logits)

    def forward(self, feats: Tensor, classifier: Callable[[Tensor], Tensor], weight: Tensor,
                labels: Optional[Tensor] = None) -> CAMCOutput:
        """Classification: GAP -> first pass -> calibrate -> GAP -> second pass.

        Args:
            feats: (B, C, H, W) feature maps.
            classifier: maps (B, C) pooled features to (B, K) logits (e.g. a
                :class:`~ltr_plugins.core.cosine.CosineClassifier`, possibly followed by IIF).
            weight: (K, C) its weight rows.
            labels: (B,) ground truth in training, None at inference.

        Returns:
            :class:`CAMCOutput` with ``logits`` (calibrated), ``aux_logits`` (uncalibrated)
            and ``pooled`` (B, C) calibrated pooled features.
        """
        if feats.dim() == 4:
            first_logits = classifier(feats.mean((2, 3)))
        else:
            first_logits = None  # calibrate() raises the shape error
        out = self.calibrate(feats, weight, first_logits, labels)
        pooled = out.feats.mean((2, 3))
        return out._replace(pooled=pooled, logits=classifier(pooled))

    # ------------------------------------------------------------------ loss
    def auxiliary_loss(self, criterion: Callable[[Tensor], Tensor], aux_logits: Tensor) -> Tensor:
        """``aux_weight * criterion(aux_logits)``: the loss on the uncalibrated logits.

        ``criterion`` is the head's own classification loss, closed over the labels (and the
        framework's sample weights / averaging), so both passes are trained alike.
        """
        return self.aux_weight * criterion(aux_logits)

    def extra_repr(self) -> str:
        return (f'num_classes={self.num_classes}, in_channels={self.in_channels}, '
                f'lam={self.lam}, topk={self.topk}, momentum={self.momentum}, '
                f'corr_weight={self.corr_weight}, combine={self.combine!r}, '
                f'detach_map={self.detach_map}, aux_weight={self.aux_weight}, '
                f'train_target={self.train_target!r}')
