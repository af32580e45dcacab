"""VL-LTR's LGR head as the RoI classifier of Mask R-CNN (math in ltr_plugins.core.vlltr).

Use in any ``BBoxHead`` (background last, as mmdet expects)::

    bbox_head=dict(
        cls_predictor_cfg=dict(type='LGRPredictor', anchors='anchors.safetensors'),
        loss_cls=dict(type='LGRClsLoss', num_classes=C, alpha=0.5))

``LGRPredictor`` returns the visual and language logits side by side, (N, 2 (C + 1));
``LGRClsLoss`` declares those channels to the head (``custom_cls_channels``), trains
CE(z1) + CE(z2) and fuses the branches at inference (``custom_activation``), so the stock
``Shared2FCBBoxHead`` / ``StandardRoIHead`` code paths run unchanged.

At LVIS size the language branch dominates the head's cost (O(RoIs x C x M x D)); with
``train_class_subset=K`` in the predictor and ``roi_head=dict(type='LGRRoIHead')`` each training
step computes language logits only for the classes of the sampled positive RoIs plus random
others up to K (a sampled softmax over K + 1 classes; the visual branch and inference keep all
C + 1 classes).
"""
from contextlib import contextmanager
from typing import List, Optional, Tuple

import torch
from mmdet.models.losses import accuracy
from mmdet.models.losses.cross_entropy_loss import cross_entropy
from mmdet.models.roi_heads import StandardRoIHead
from mmdet.registry import MODELS
from mmengine.registry import MODELS as ROOT_MODELS
from torch import nn

from ..core import build_iif, check_finite
from ..core.vlltr import (FUSION_MODES, LanguageGuidedClassifier, fuse_branch_scores,
                          load_anchor_embeddings, sample_class_subset)


@ROOT_MODELS.register_module()
class LGRPredictor(nn.Module):
    """RoI classifier: a Linear from the RoI feature to the anchors' dimension D, then the LGR
    head with text anchors for the C foreground classes and a learned background embedding.

    Args:
        in_features: RoI feature dimension (given by the bbox head).
        out_features: 2 (C + 1) (given by the bbox head from ``LGRClsLoss``).
        anchors: anchor embedding file (C classes, in the detector's label order).
        hidden_ratio: width of the visual MLP as a multiple of D.
        iif: optional IIF config (see :func:`ltr_plugins.core.build_iif`): both branches'
            logits are multiplied by the IIF weights (background weight 1.0).
        train_class_subset: K or None (all classes). In training, the language logits are
            computed only for the classes of the step's positive RoIs plus classes drawn
            uniformly from the rest up to K (:func:`~ltr_plugins.core.vlltr.sample_class_subset`);
            the other classes' language logits are -inf, so CE(z2) is a softmax over the subset
            and background. Needs ``roi_head=dict(type='LGRRoIHead')`` (which tells the
            predictor the positive classes). Inference always uses all classes.

    Shape: (N, in_features) -> (N, 2 (C + 1)) = [visual logits | language logits].
    """

    def __init__(self, in_features: int, out_features: int, anchors: str,
                 hidden_ratio: int = 1, iif: Optional[dict] = None,
                 train_class_subset: Optional[int] = None) -> None:
        super().__init__()
        if out_features % 2:
            raise ValueError(f'LGRPredictor needs out_features = 2 (C + 1), got {out_features}:'
                             " use loss_cls=dict(type='LGRClsLoss', ...) in the bbox head")
        num_classes = out_features // 2 - 1
        emb = load_anchor_embeddings(anchors, num_classes=num_classes)
        self.num_classes = num_classes
        self.proj = nn.Linear(in_features, emb.anchors.shape[2])
        self.lgr = LanguageGuidedClassifier(emb.anchors, emb.logit_scale, hidden_ratio,
                                            background=True)
        self.iif = build_iif(num_classes, background=True, **iif) if iif else None
        if train_class_subset is not None and train_class_subset < 1:
            raise ValueError(f'LGRPredictor: train_class_subset must be None or >= 1, got '
                             f'{train_class_subset}')
        self.train_class_subset = train_class_subset
        self._present: Optional[torch.Tensor] = None  # set by LGRRoIHead for one forward

    @contextmanager
    def positive_classes(self, labels: torch.Tensor):
        """Within this context, training forwards draw the class subset around ``labels``
        (the foreground labels of the step's positive RoIs)."""
        self._present = labels
        try:
            yield
        finally:
            self._present = None

    def _train_classes(self) -> Optional[torch.Tensor]:
        """The (K,) class subset of this training forward, or None (all classes)."""
        if not (self.training and self.train_class_subset):
            return None
        if self._present is None:
            raise RuntimeError("LGRPredictor(train_class_subset=...) needs the positive "
                               "classes of the step: use roi_head=dict(type='LGRRoIHead')")
        return sample_class_subset(self._present, self.num_classes, self.train_class_subset)

    def init_weights(self) -> None:
        """Runs after the bbox head's ``init_cfg`` override of ``fc_cls`` (which re-draws
        every Linear / LayerNorm weight): restore LayerNorm = (1, 0) and W_q = W_k = I."""
        for norm in (self.lgr.query_norm, self.lgr.key_norm):
            norm.reset_parameters()
        self.lgr.reset_attention()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, in_features) RoI features -> (N, 2 (C + 1)) = [visual | language] logits,
        background last in each half (IIF-adjusted if ``iif`` is set)."""
        if self.training:
            check_finite(x, type(self).__name__, 'RoI features')
        feats = self.proj(x)
        visual, classes = self.lgr.visual(feats), self._train_classes()
        if classes is None:
            language = self.lgr.language_logits(feats)
        else:  # the subset's logits (+ background) in their columns, the rest -inf below
            columns = torch.cat([classes, classes.new_tensor([self.num_classes])]).to(x.device)
            sub = self.lgr.language_logits(feats, columns[:-1])               # (N, K + 1)
            language = sub.new_zeros(len(sub), self.num_classes + 1).index_copy(1, columns, sub)
        if self.iif is not None:
            visual, language = self.iif(visual), self.iif(language)
        if classes is not None:  # after IIF: a weight of 0 would turn -inf into NaN
            outside = torch.ones(self.num_classes + 1, dtype=torch.bool, device=x.device)
            language = language.masked_fill(outside.index_fill(0, columns, False),
                                             float('-inf'))
        return torch.cat([visual, language], dim=1)


@MODELS.register_module()
class LGRRoIHead(StandardRoIHead):
    """``StandardRoIHead`` that hands the positive RoIs' labels to an
    :class:`LGRPredictor` with ``train_class_subset`` before the box head's training forward
    (the labels are known from the sampling results, the predictor sees only features).
    Otherwise identical to ``StandardRoIHead``."""

    def bbox_loss(self, x: Tuple[torch.Tensor], sampling_results: List) -> dict:
        """As ``StandardRoIHead.bbox_loss``, with the positive classes set on the predictor."""
        predictor = getattr(self.bbox_head, 'fc_cls', None)
        if not isinstance(predictor, LGRPredictor):
            raise TypeError(f'LGRRoIHead needs a bbox head whose cls predictor is LGRPredictor, '
                            f'got {type(predictor).__name__}')
        labels = torch.cat([res.pos_gt_labels for res in sampling_results])
        with predictor.positive_classes(labels):
            return super().bbox_loss(x, sampling_results)


@MODELS.register_module()
class LGRClsLoss(nn.Module):
    """Loss / activation for :class:`LGRPredictor` scores (N, 2 (C + 1)).

    Training: ``loss_cls_visual`` = CE(z1) and ``loss_cls_language`` = CE(z2), softmax over
    C + 1 with mmdet's sample weights and ``avg_factor``. Inference (``get_activation``):
    ``alpha * softmax(z1) + (1 - alpha) * softmax(z2)`` (``fusion='prob'``), background last.

    Args:
        num_classes: C (foreground).
        alpha: weight of the visual branch at inference.
        fusion: ``'prob'`` or ``'logit'`` (see :func:`ltr_plugins.core.vlltr.fuse_branch_scores`).
        language_loss_weight: weight of CE(z2) relative to CE(z1).
        loss_weight: overall weight.
    """

    def __init__(self, num_classes: int, alpha: float = 0.5, fusion: str = 'prob',
                 language_loss_weight: float = 1.0, loss_weight: float = 1.0) -> None:
        super().__init__()
        if fusion not in FUSION_MODES:
            raise ValueError(f'unknown fusion {fusion!r}; choose one of {FUSION_MODES}')
        self.num_classes, self.alpha, self.fusion = num_classes, float(alpha), fusion
        self.language_loss_weight, self.loss_weight = language_loss_weight, loss_weight
        self.use_sigmoid = False
        self.custom_cls_channels = True
        self.custom_activation = True
        self.custom_accuracy = True

    def get_cls_channels(self, num_classes: int) -> int:
        """``2 (C + 1)`` output channels of the predictor (mmdet's custom-channels hook)."""
        if num_classes != self.num_classes:
            raise ValueError(f'LGRClsLoss has num_classes={self.num_classes} but the bbox head '
                             f'has {num_classes}')
        return 2 * (num_classes + 1)

    def split(self, cls_score: torch.Tensor):
        """(N, 2 (C + 1)) -> visual (N, C + 1), language (N, C + 1)."""
        return cls_score.split(self.num_classes + 1, dim=-1)

    def get_activation(self, cls_score: torch.Tensor) -> torch.Tensor:
        """(N, 2 (C + 1)) scores -> (N, C + 1) fused probabilities, background last."""
        visual, language = self.split(cls_score)
        return fuse_branch_scores(visual, language, self.alpha, self.fusion)

    def get_accuracy(self, cls_score: torch.Tensor, labels: torch.Tensor) -> dict:
        """``{'acc': top-1 %}`` of the fused scores (N, 2 (C + 1)) against (N,) labels."""
        return dict(acc=accuracy(self.get_activation(cls_score), labels))

    def forward(self, cls_score: torch.Tensor, labels: torch.Tensor,
                weight: Optional[torch.Tensor] = None, avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None) -> dict:
        """(N, 2 (C + 1)) scores, (N,) labels in ``[0, C]`` (C = background), optional (N,)
        sample weights -> ``{'loss_cls_visual', 'loss_cls_language'}`` (softmax CE each)."""
        reduction = reduction_override or 'mean'
        visual, language = self.split(cls_score)
        ce = [cross_entropy(z, labels, weight, reduction=reduction, avg_factor=avg_factor)
              for z in (visual, language)]
        return dict(loss_cls_visual=self.loss_weight * ce[0],
                    loss_cls_language=self.loss_weight * self.language_loss_weight * ce[1])
