"""OLTR (Liu et al., CVPR 2019): dynamic meta-embedding, visual memory, discriminative centroid
loss and modulated attention. Behaviour follows the authors' code (zhmiao/OpenLongTailRecognition-
OLTR) where it differs from the paper; see docs/methods/oltr.md.

Shapes: B samples, D feature dimension, C classes (foreground classes for detection).
"""
from __future__ import annotations

from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .cosine import CosineClassifier
from .distributed import all_reduce_sum


def reachability(features: Tensor, centroids: Tensor, scale: float = 10.0) -> Tensor:
    """``gamma_b = scale / min_j ||v_b - M_j||_2`` (plain L2 distance to the nearest centroid).

    Args:
        features: (B, D) direct features v.
        centroids: (C, D) visual memory M.
        scale: numerator (10 in OLTR).

    Returns:
        (B,) reachability, float32. The distance is clamped at 1e-12 (a feature exactly on a
        centroid would give ``inf``; OLTR's code has no guard).

    The nearest centroid is found without autograd from ``||M_j||^2 - 2 v.M_j`` (two matmuls),
    then its distance is recomputed exactly as ``||v_b - M_j||``: same value and gradient as
    the min over all distances (the min's gradient flows to the argmin only), without the (B, C)
    distance backward, which on CPU cost 4x the rest of this function at LVIS size.
    """
    f, c = features.float(), centroids.float()
    with torch.no_grad():
        nearest = ((c * c).sum(1)[None] - 2.0 * f @ c.t()).argmin(dim=1)  # (B,)
    dist = (f - c.index_select(0, nearest)).norm(dim=1)
    return scale / dist.clamp_min(1e-12)


class MetaEmbedding(nn.Module):
    """Dynamic meta-embedding classifier (OLTR's ``MetaEmbedding_Classifier``).

    ``v_meta = gamma * (v + tanh(W_sel v + b_sel) * softmax(W_hal v + b_hal) M)``, then a squashed
    cosine classifier ``s * (||x|| / (1 + ||x||)) (x / ||x||) . (w_c / ||w_c||)``, s = 16, no bias.

    Args:
        feat_dim: D.
        num_classes: C (rows of the memory and of the classifier).
        reachability_scale: numerator of the reachability (10).
        cosine_scale: s of the squashed cosine classifier (16).

    Attributes:
        hallucinator: ``Linear(D, C)``; OLTR initialises it from the stage-1 linear classifier.
        concept_selector: ``Linear(D, D)`` followed by tanh.
        classifier: :class:`CosineClassifier` with ``squash=True``.
    """

    def __init__(self, feat_dim: int, num_classes: int, reachability_scale: float = 10.0,
                 cosine_scale: float = 16.0) -> None:
        super().__init__()
        self.feat_dim, self.num_classes = feat_dim, num_classes
        self.reachability_scale = reachability_scale
        self.hallucinator = nn.Linear(feat_dim, num_classes)
        self.concept_selector = nn.Linear(feat_dim, feat_dim)
        self.classifier = CosineClassifier(feat_dim, num_classes, scale=cosine_scale,
                                           squash=True)

    def embed(self, features: Tensor, centroids: Tensor) -> Tensor:
        """(B, D) direct features, (C, D) memory -> (B, D) meta embedding, **float32**.

        The reachability factor is applied in float32: near a centroid it exceeds the fp16
        range (``10 / dist > 65504`` for ``dist < 1.5e-4``), while the squashed cosine
        classifier only needs the direction and ``|x| / (1 + |x|)``. The caller passes the
        centroids detached: the classification loss must not move them.
        """
        if centroids.shape != (self.num_classes, self.feat_dim):
            raise ValueError(f'MetaEmbedding: centroids of shape {tuple(centroids.shape)}, '
                             f'expected ({self.num_classes}, {self.feat_dim})')
        gamma = reachability(features, centroids, self.reachability_scale)  # float32
        memory = self.hallucinator(features).softmax(dim=1) @ centroids.to(features.dtype)
        selector = torch.tanh(self.concept_selector(features))
        return gamma[:, None] * (features + selector * memory).float()

    def forward(self, features: Tensor, centroids: Tensor) -> Tensor:
        """(B, D) direct features, (C, D) detached memory -> (B, C) logits (features' dtype)."""
        return self.classifier(self.embed(features, centroids)).to(features.dtype)


class _CentroidAttract(torch.autograd.Function):
    """``loss_weight * sum_i ||f_i - c_{y_i}||^2 / (2B)`` with the center-loss centroid update.

    With ``g`` the incoming gradient (1 for a plain ``backward()``, the loss scale under
    ``torch.amp.GradScaler``, the product of any factors applied outside):

    * feature gradient ``g * loss_weight * (f_i - c_{y_i}) / B``: the true gradient;
    * centroid gradient ``g * (1/B) sum_{i: y_i=j} (c_j - f_i) / (1 + n_j)``: **not** multiplied
      by ``loss_weight``, so the loss weight does not slow the memory down (OLTR's
      ``DiscCentroidsLossFunc``). Classes absent from the batch get a zero gradient.

    OLTR's backward drops ``g`` from the centroid gradient altogether; that only works without a
    loss scaler: ``GradScaler`` multiplies the loss by ``S`` (65536 at the start) and divides
    every gradient by ``S`` before the step, so a centroid gradient that ignores ``g`` ends up
    ``S`` times too small and the memory freezes under fp16. Keeping ``g`` and taking the loss
    weight as an argument (instead of a factor outside) gives OLTR's update in fp32 and under
    the scaler. Any factor applied *outside* scales the memory update too, as a loss scale does.

    ``n_j`` is the class count of the *global* batch (``counts``, summed over DDP ranks): with
    per-rank counts DDP's gradient average would not equal the update of one process on the
    whole batch (``1 / (1 + n_j)`` is not linear in the batch).
    """

    @staticmethod
    def forward(ctx, features: Tensor, labels: Tensor, centroids: Tensor, counts: Tensor,
                loss_weight: float) -> Tensor:
        diff = features - centroids.index_select(0, labels)  # (B, D)
        ctx.save_for_backward(diff, labels, counts)
        ctx.num_classes, ctx.loss_weight = centroids.shape[0], loss_weight
        return loss_weight * diff.pow(2).sum() / (2.0 * features.shape[0])

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        diff, labels, counts = ctx.saved_tensors
        batch = diff.shape[0]
        grad_features = grad_centroids = None
        if ctx.needs_input_grad[0]:
            grad_features = grad_output * ctx.loss_weight * diff / batch
        if ctx.needs_input_grad[2]:
            sums = diff.new_zeros(ctx.num_classes, diff.shape[1]).index_add_(0, labels, -diff)
            grad_centroids = grad_output * sums / (1.0 + counts.to(diff.dtype))[:, None] / batch
        return grad_features, None, grad_centroids, None, None


def centroid_attract(features: Tensor, labels: Tensor, centroids: Tensor,
                     counts: Optional[Tensor] = None, loss_weight: float = 1.0) -> Tensor:
    """Attracting term of the discriminative centroid loss, times ``loss_weight``; see
    :class:`_CentroidAttract` (the centroid gradient does not depend on ``loss_weight``).

    Computed in float32 whatever the input dtypes: the value and the centroid gradient stay
    in range under fp16 autocast and loss scaling.

    Args:
        features: (B, D) direct features.
        labels: (B,) int64 in ``[0, C)``.
        centroids: (C, D) visual memory.
        counts: (C,) per-class sample counts of the global batch for the centroid update
            (default: the counts of ``labels``, i.e. one process).
        loss_weight: weight of this term in the total loss (must be finite and >= 0).

    Returns:
        float32 scalar.
    """
    if not (loss_weight >= 0 and loss_weight != float('inf')):
        raise ValueError(f'centroid_attract: loss_weight must be finite and >= 0, '
                         f'got {loss_weight}')
    if counts is None:
        counts = torch.bincount(labels, minlength=centroids.shape[0])
    return _CentroidAttract.apply(features.float(), labels, centroids.float(), counts,
                                  float(loss_weight))


def centroid_repel(features: Tensor, labels: Tensor, centroids: Tensor,
                   margin: float = 10.0) -> Tensor:
    """``clamp(margin - sum_{i, j != y_i} ||f_i - c_j||^2 / (B * C), 0, 1e6)``.

    The own-class entries are zeroed but still counted in the divisor ``B * C`` (OLTR's code).
    The squared distances use ``||f||^2 + ||c||^2 - 2 f.c`` (no (B, C, D) tensor).
    """
    f, c = features.float(), centroids.float()
    dist = (f * f).sum(1, keepdim=True) + (c * c).sum(1)[None] - 2.0 * f @ c.t()  # (B, C)
    own = F.one_hot(labels, c.shape[0]).bool()
    dist = dist.masked_fill(own, 0.0)
    return torch.clamp(margin - dist.sum() / (f.shape[0] * c.shape[0]), 0.0, 1e6)


class DiscCentroidsLoss(nn.Module):
    """Discriminative centroid loss with the visual memory as its parameter.

    ``loss = loss_weight * (L_att + repel_weight * L_rep)`` (OLTR: margin 10, repel_weight 0.01,
    loss_weight 0.01). The loss weight is an argument, not a factor the caller applies: the
    centroid update of ``L_att`` must not depend on it but must follow the incoming gradient
    (a loss scale), see :class:`_CentroidAttract`. The centroids are an ``nn.Parameter`` (saved in
    checkpoints, optimised with their own settings through ``paramwise_cfg``) and the
    ``initialized`` buffer records whether they hold class means yet, so a resumed run keeps
    them.

    Args:
        num_classes: C.
        feat_dim: D.
        margin: repel margin (10).
        repel_weight: weight of the repel term inside the module (0.01).
        loss_weight: weight of the whole loss in the total loss (0.01 in OLTR's configs);
            it scales the feature gradients and the repel term, not the attract update.

    Shape:
        features (B, D), labels (B,) int64 in ``[0, C)`` -> scalar.
    """

    def __init__(self, num_classes: int, feat_dim: int, margin: float = 10.0,
                 repel_weight: float = 0.01, loss_weight: float = 1.0) -> None:
        super().__init__()
        if not (loss_weight >= 0 and loss_weight != float('inf')):
            raise ValueError(f'DiscCentroidsLoss: loss_weight must be finite and >= 0, '
                             f'got {loss_weight}')
        self.num_classes, self.feat_dim = num_classes, feat_dim
        self.margin, self.repel_weight = margin, repel_weight
        self.loss_weight = float(loss_weight)
        # OLTR initialises randomly and overwrites with class means before stage-2 training.
        self.centroids = nn.Parameter(torch.randn(num_classes, feat_dim))
        self.register_buffer('initialized', torch.zeros((), dtype=torch.bool))

    @torch.no_grad()
    def set_centroids(self, means: Tensor) -> None:
        """Overwrite the memory with (C, D) class means and mark it initialised."""
        if means.shape != self.centroids.shape:
            raise ValueError(f'set_centroids: got shape {tuple(means.shape)}, expected '
                             f'{tuple(self.centroids.shape)}')
        self.centroids.copy_(means.to(self.centroids))
        self.initialized.fill_(True)

    def forward(self, features: Tensor, labels: Tensor) -> Tensor:
        """(B, D) direct features, (B,) labels in ``[0, C)`` -> float32 scalar
        ``loss_weight * (L_att + repel_weight * L_rep)`` (0 with the graph kept for an empty
        batch)."""
        labels = labels.long()
        if labels.numel() and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise ValueError(f'DiscCentroidsLoss: labels must lie in [0, {self.num_classes}), '
                             f'got [{int(labels.min())}, {int(labels.max())}]')
        # class counts of the global batch (every DDP rank joins, even without samples)
        counts = all_reduce_sum(torch.bincount(labels, minlength=self.num_classes))
        if features.shape[0] == 0:
            # keep the graph (and DDP's parameter bookkeeping) intact with a zero loss
            return features.sum() * 0 + self.centroids.sum() * 0
        attract = centroid_attract(features, labels, self.centroids, counts, self.loss_weight)
        repel = centroid_repel(features, labels, self.centroids, self.margin)
        return attract + (self.loss_weight * self.repel_weight) * repel

    def extra_repr(self) -> str:
        return (f'num_classes={self.num_classes}, feat_dim={self.feat_dim}, '
                f'margin={self.margin}, repel_weight={self.repel_weight}, '
                f'loss_weight={self.loss_weight}')


def class_feature_sums(features: Tensor, labels: Tensor,
                       num_classes: int) -> Tuple[Tensor, Tensor]:
    """Per-class (C, D) float64 sums and (C,) counts of (B, D) features (labels outside
    ``[0, C)`` are ignored); combine over batches / ranks, then divide."""
    features, labels = features.detach().double(), labels.long()
    keep = (labels >= 0) & (labels < num_classes)
    features, labels = features[keep], labels[keep]
    sums = features.new_zeros(num_classes, features.shape[1]).index_add_(0, labels, features)
    counts = torch.bincount(labels, minlength=num_classes).double()
    return sums, counts


class ModulatedAttention(nn.Module):
    """OLTR's modulated attention: ``x + s * W_mask(NonLocal(x))``.

    Non-local (embedded Gaussian) block with θ, φ, g: 1x1 convs C -> C/reduction (Kaiming init,
    zero bias) and ``W_mask``: 1x1 conv C/reduction -> C without bias, **zero-initialised**, so the
    layer starts as the identity. The spatial attention ``s`` is a softmax over the H*W positions
    of ``Linear(C*H*W, H*W)`` applied to the flattened map, shared by all channels. The linear
    layer fixes the spatial size (7x7 in OLTR).

    Args:
        in_channels: C.
        spatial_size: (H, W) of the maps (an int for square maps).
        reduction: channel reduction of θ, φ, g (2).

    Shape:
        (N, C, H, W) -> (N, C, H, W).
    """

    def __init__(self, in_channels: int, spatial_size: Union[int, Sequence[int]] = 7,
                 reduction: int = 2) -> None:
        super().__init__()
        if isinstance(spatial_size, int):
            spatial_size = (spatial_size, spatial_size)
        self.in_channels, self.spatial_size = in_channels, tuple(spatial_size)
        self.inter_channels = max(in_channels // reduction, 1)
        self.theta = nn.Conv2d(in_channels, self.inter_channels, 1)
        self.phi = nn.Conv2d(in_channels, self.inter_channels, 1)
        self.g = nn.Conv2d(in_channels, self.inter_channels, 1)
        self.conv_mask = nn.Conv2d(self.inter_channels, in_channels, 1, bias=False)
        positions = self.spatial_size[0] * self.spatial_size[1]
        self.fc_spatial = nn.Linear(in_channels * positions, positions)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """θ, φ, g: Kaiming normal, zero bias; ``W_mask`` zero (the layer starts as identity)."""
        for conv in (self.theta, self.phi, self.g):
            nn.init.kaiming_normal_(conv.weight)
            nn.init.zeros_(conv.bias)
        nn.init.zeros_(self.conv_mask.weight)

    def forward(self, x: Tensor) -> Tensor:
        """(N, C, H, W) -> (N, C, H, W): ``x + spatial_softmax * W_mask(NonLocal(x))``; the
        shape must match ``in_channels`` and ``spatial_size``."""
        n, c, h, w = x.shape
        if (c, h, w) != (self.in_channels, *self.spatial_size):
            raise ValueError(f'ModulatedAttention: input of shape {tuple(x.shape)}, expected '
                             f'(N, {self.in_channels}, {self.spatial_size[0]}, '
                             f'{self.spatial_size[1]}) (spatial_size is fixed by fc_spatial)')
        theta = self.theta(x).flatten(2).transpose(1, 2)  # (N, HW, C')
        phi = self.phi(x).flatten(2)  # (N, C', HW)
        g = self.g(x).flatten(2).transpose(1, 2)  # (N, HW, C')
        attn = torch.softmax(theta @ phi, dim=-1)  # (N, HW, HW)
        nonlocal_map = (attn @ g).transpose(1, 2).reshape(n, self.inter_channels, h, w)
        mask = self.conv_mask(nonlocal_map)
        spatial = torch.softmax(self.fc_spatial(x.flatten(1)), dim=1).view(n, 1, h, w)
        return x + spatial * mask
