"""VL-LTR stage 2: the language-guided recognition (LGR) head, its inference fusion and the
class subset of the language branch (sampled softmax in detection training)."""
from __future__ import annotations

import math
from typing import Callable, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..cosine import cosine_logits, l2_normalize


class LanguageGuidedClassifier(nn.Module):
    """The LGR head: a language branch attending over each class's anchor sentences and a
    visual MLP branch.

    With image feature f (B, D) and frozen anchors T (C, M, D):
    ``q = W_q LN(f)``, ``k_cm = W_k LN(T_cm)``, ``a_cm = softmax_m(q . k_cm / sqrt(D))``,
    ``v_c = sum_m a_cm T_cm`` (values: the raw anchors), language logits
    ``z2_c = s * cos(f, v_c)`` with the pretrained, frozen scale s, and visual logits
    ``z1 = Linear(hD -> C')(ReLU(Linear(D -> hD)(f)))`` (h = ``hidden_ratio``).
    W_q, W_k start at the identity, without bias.

    Init (:meth:`reset_parameters`), as the reference's ``LGR._init_weights``
    (ChangyaoTian/VL-LTR ``models/finetune.py`` lines 263-276): every Linear weight
    truncated-normal with std 0.02 (bounds +-2, i.e. practically untruncated) and bias 0, the
    LayerNorms (1, 0), then W_q = W_k = I.

    With ``background=True`` (detection) a learned background embedding b (D) adds a last
    language logit ``s * cos(f, b)`` and the visual branch has C + 1 outputs, so both branches
    give (B, C + 1) logits with the background last (mmdet's convention).

    The language logits are computed without materialising v (B, C, D) or k (C, M, D):
    ``f . v_c = sum_m a_cm (f . T_cm)``, ``|v_c|^2 = a_c^T G_c a_c`` with the cached Gram
    matrices ``G_c = T_c T_c^T``, and ``q . k_cm = (W_k^T W_q LN(f)) . LN(T_cm)`` with LN(T)
    from a cached normalisation (see :meth:`attention`); the cost is O(B C M D) per step instead
    of O(B C D (M + D) + C M D^2). :meth:`attention` exposes the weights for tests.

    Args:
        anchors: (C, M, D) anchor embeddings (stored as a buffer, saved in checkpoints).
        logit_scale: log of s (from pretraining; a buffer, not trained).
        hidden_ratio: width of the visual MLP as a multiple of D (reference 4).
        background: add the learned background embedding / output.
    """

    def __init__(self, anchors: torch.Tensor, logit_scale: float, hidden_ratio: int = 4,
                 background: bool = False) -> None:
        super().__init__()
        if anchors.dim() != 3:
            raise ValueError(f'anchors must be (C, M, D), got shape {tuple(anchors.shape)}')
        num_classes, _, dim = anchors.shape
        self.dim = dim
        self.register_buffer('anchors', anchors.detach().clone().float())
        self.register_buffer('logit_scale', torch.tensor(float(logit_scale)))
        self.query_norm = nn.LayerNorm(dim)
        self.key_norm = nn.LayerNorm(dim)
        self.query = nn.Linear(dim, dim, bias=False)
        self.key = nn.Linear(dim, dim, bias=False)
        num_out = num_classes + int(background)
        self.visual = nn.Sequential(nn.Linear(dim, hidden_ratio * dim), nn.ReLU(inplace=True),
                                    nn.Linear(hidden_ratio * dim, num_out))
        self.background = nn.Parameter(torch.randn(dim) * 0.02) if background else None
        self._cache: Optional[Tuple[torch.Tensor, torch.Tensor]] = None
        self._cache_key: Optional[tuple] = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """The reference's init: Linear weights trunc_normal(std 0.02, bounds +-2), biases 0;
        LayerNorms (1, 0); W_q = W_k = identity."""
        for m in self.visual:
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02, a=-2.0, b=2.0)
                nn.init.zeros_(m.bias)
        for norm in (self.query_norm, self.key_norm):
            norm.reset_parameters()
        self.reset_attention()

    def reset_attention(self) -> None:
        """W_q = W_k = identity (the reference's initialisation)."""
        with torch.no_grad():
            self.query.weight.copy_(torch.eye(self.dim))
            self.key.weight.copy_(torch.eye(self.dim))

    def attention(self, feats: torch.Tensor,
                  classes: Optional[torch.Tensor] = None) -> torch.Tensor:
        """(B, D) features -> (B, C, M) attention weights over each class's anchors (only the
        K classes of the (K,) index tensor ``classes`` if given: (B, K, M)).

        ``q . k_cm = u . LN(T_cm)`` with ``u = W_k^T W_q LN(f)``; and since the anchors are
        frozen, ``LN(T) = gamma * n + beta`` with the cached affine-free normalisation n, so
        ``u . LN(T_cm) = (gamma * u) . n_cm + beta . u``: no (C, M, D) tensor per step.
        """
        u = self.query(self.query_norm(feats)) @ self.key.weight       # (B, D) = (W_k^T q)^T
        _, normed = self.anchor_cache()
        if classes is not None:
            normed = normed[classes]
        scores = torch.einsum('cmd,bd->bcm', normed, u * self.key_norm.weight)
        scores = scores + (u @ self.key_norm.bias)[:, None, None]
        return (scores / math.sqrt(self.dim)).softmax(dim=-1)

    def anchor_cache(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """Functions of the frozen anchors alone, cached: the (C, M, M) Gram matrices
        ``T_c T_c^T`` and the (C, M, D) affine-free layer normalisation of T (they cost
        O(C M^2 D) and O(C M D), more than the rest of the head at small batches). The cache is
        keyed by the anchors' storage, version counter (bumped by any in-place write, e.g.
        ``load_state_dict``), device and dtype, so it is never stale."""
        a = self.anchors
        key = (a.data_ptr(), a._version, a.device, a.dtype)
        if self._cache_key != key:
            with torch.no_grad():
                self._cache = (torch.einsum('cmd,cnd->cmn', a, a),
                               F.layer_norm(a, (self.dim, ), eps=self.key_norm.eps))
            self._cache_key = key
        return self._cache

    def language_logits(self, feats: torch.Tensor,
                        classes: Optional[torch.Tensor] = None) -> torch.Tensor:
        """(B, D) -> (B, C [+1]) ``s * cos(f, v_c)`` (+ background), in ``feats.dtype``.

        With a (K,) index tensor ``classes`` only those classes' logits are computed,
        (B, K [+1]) in that order (background still last): the cost is O(B K M D) instead of
        O(B C M D) (see :func:`sample_class_subset`).

        Norms as in :func:`~ltr_plugins.core.cosine.l2_normalize`: float32, a zero feature
        (or a zero v_c) gives logit 0 with a finite gradient, also in bf16 / fp16."""
        eps = 1e-6
        attn = self.attention(feats, classes)
        unit = l2_normalize(feats, -1, eps).to(feats.dtype)          # (B, D), 0 for f = 0
        anchors, (gram, _) = self.anchors, self.anchor_cache()
        if classes is not None:
            anchors, gram = anchors[classes], gram[classes]
        f_dot_v = (attn * torch.einsum('cmd,bd->bcm', anchors.to(feats.dtype), unit)).sum(-1)
        v_norm_sq = torch.einsum('bcm,cmn,bcn->bc', attn, gram.to(attn.dtype), attn)
        # float32 (autocast may have run the einsums in bf16 / fp16, where eps^2 underflows);
        # a v_c of norm <= eps (a class without anchor direction) gives cos 0 and no gradient
        # (not the 1/eps one of a clamped denominator, which overflows fp16)
        v_norm_sq = v_norm_sq.float()
        cos = torch.where(v_norm_sq > eps * eps,
                          f_dot_v.float() / v_norm_sq.clamp_min(eps * eps).sqrt(), 0.0)
        scale = self.logit_scale.exp()
        logits = (scale * cos).to(feats.dtype)
        if self.background is not None:
            bg = cosine_logits(feats, self.background[None], scale=scale, eps=eps)
            logits = torch.cat([logits, bg.to(logits.dtype)], dim=1)
        return logits

    def subset_language_logits(
            self, feats: torch.Tensor, classes: torch.Tensor,
            adjust: Optional[Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = None
    ) -> torch.Tensor:
        """(B, D) features, (K,) sorted class indices -> (B, C [+1]) language logits computed
        for those K classes (+ background) only, -inf in every other column (see
        :func:`subset_logits`; cost O(B K M D)).

        ``adjust(logits, columns)`` is applied to the (B, K [+1]) computed logits with their
        column indices before the -inf fill (e.g. IIF with those columns' weights: a weight of
        0 applied after the fill would turn -inf into NaN)."""
        num_classes, classes = self.anchors.shape[0], classes.to(feats.device)
        columns = classes
        if self.background is not None:
            columns = torch.cat([classes, classes.new_tensor([num_classes])])
        logits = self.language_logits(feats, classes)
        if adjust is not None:
            logits = adjust(logits, columns)
        return subset_logits(logits, columns, num_classes + int(self.background is not None))

    def forward(self, feats: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """(B, D) features -> (visual logits z1, language logits z2), each (B, C [+1])."""
        return self.visual(feats), self.language_logits(feats)


def subset_logits(logits: torch.Tensor, columns: torch.Tensor, num_columns: int) -> torch.Tensor:
    """(B, K) logits of the columns ``columns`` (K,) -> (B, num_columns) with -inf in every
    other column: a softmax / cross-entropy over the result is the one over the K columns
    (a sampled softmax), and the -inf columns get no gradient."""
    out = logits.new_full((logits.shape[0], num_columns), float('-inf'))
    return out.index_copy(1, columns, logits)


def sample_class_subset(present: torch.Tensor, num_classes: int, size: int,
                        generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """The classes a training step computes language logits for: every class in ``present``
    (any shape, foreground indices in ``[0, C)``; duplicates allowed) plus classes drawn
    uniformly without replacement from the others until there are ``size`` (all of them if
    fewer are left). Returns the sorted (K,) long indices, K = max(size, #present) capped at C.

    This is the class subset of a federated / sampled softmax: the loss over the subset has
    the same positives and a random share of the negatives (choice in docs/methods/vlltr.md).
    """
    if size < 1:
        raise ValueError(f'class subset size must be >= 1, got {size}')
    present = present.reshape(-1).long().cpu()
    if present.numel() and (present.min() < 0 or present.max() >= num_classes):
        raise ValueError(f'present classes must be in [0, {num_classes}), got '
                         f'{present.min().item()}..{present.max().item()}')
    mask = torch.zeros(num_classes, dtype=torch.bool)
    mask[present] = True
    missing = size - int(mask.sum())
    if missing > 0:
        others = torch.nonzero(~mask)[:, 0]
        pick = torch.randperm(others.numel(), generator=generator)[:missing]
        mask[others[pick]] = True
    return torch.nonzero(mask)[:, 0]


FUSION_MODES = ('prob', 'logit')


def fuse_branch_scores(visual_logits: torch.Tensor, language_logits: torch.Tensor,
                       alpha: float, mode: str = 'prob') -> torch.Tensor:
    """Inference scores of the LGR head, (B, C) probabilities.

    ``'prob'``: ``alpha * softmax(z1) + (1 - alpha) * softmax(z2)`` (the reference's inference);
    ``'logit'``: ``softmax(alpha * z1 + (1 - alpha) * z2)`` (a logit-space alternative).
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f'alpha must be in [0, 1], got {alpha}')
    if mode == 'prob':
        return alpha * visual_logits.softmax(-1) + (1 - alpha) * language_logits.softmax(-1)
    if mode == 'logit':
        return (alpha * visual_logits + (1 - alpha) * language_logits).softmax(-1)
    raise ValueError(f'unknown fusion mode {mode!r}; choose one of {FUSION_MODES}')
