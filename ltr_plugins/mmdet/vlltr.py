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
``train_class_subset=K`` in the predictor and ``roi_head=dict(type='LabelAwareRoIHead')`` (alias
``'LGRRoIHead'``) each training step computes language logits only for the classes of the
sampled positive RoIs plus random others up to K (a sampled softmax over K + 1 classes; the
visual branch and inference keep all C + 1 classes).
"""
from functools import partial
from typing import Optional

import torch
from mmdet.models.losses import accuracy
from mmdet.models.losses.cross_entropy_loss import cross_entropy
from mmdet.registry import MODELS
from mmengine.registry import MODELS as ROOT_MODELS
from torch import nn

from ..core import adjust_logits, check_finite
from ..core.vlltr import (FUSION_MODES, LanguageGuidedClassifier, fuse_branch_scores,
                          load_anchor_embeddings, sample_class_subset)
from ..datasets import build_iif_from_config
from .heads import LGRRoIHead  # noqa: F401  (moved to heads.py; still importable from here)


@ROOT_MODELS.register_module()
class LGRPredictor(nn.Module):
    """RoI classifier: a Linear from the RoI feature to the anchors' dimension D, then the LGR
    head with text anchors for the C foreground classes and a learned background embedding.

    Args:
        in_features: RoI feature dimension (given by the bbox head).
        out_features: 2 (C + 1) (given by the bbox head from ``LGRClsLoss``).
        anchors: anchor embedding file (C classes, in the detector's label order).
        hidden_ratio: width of the visual MLP as a multiple of D.
        iif: optional IIF config (see :func:`ltr_plugins.datasets.build_iif_from_config`): both
            branches' logits are multiplied by the IIF weights (background weight 1.0).
        train_class_subset: K or None (all classes). In training, the language logits are
            computed only for the classes of the step's positive RoIs plus classes drawn
            uniformly from the rest up to K (:func:`~ltr_plugins.core.vlltr.sample_class_subset`);
            the other classes' language logits are -inf, so CE(z2) is a softmax over the subset
            and background. Needs ``roi_head=dict(type='LabelAwareRoIHead')`` (which calls
            :meth:`forward_train` with the RoI labels). Inference always uses all classes.

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
        self.iif = build_iif_from_config(num_classes, iif, background=True)
        if train_class_subset is not None and train_class_subset < 1:
            raise ValueError(f'LGRPredictor: train_class_subset must be None or >= 1, got '
                             f'{train_class_subset}')
        self.train_class_subset = train_class_subset

    def init_weights(self) -> None:
        """Runs after the bbox head's ``init_cfg`` override of ``fc_cls`` (which re-draws
        every Linear / LayerNorm weight): restore LayerNorm = (1, 0) and W_q = W_k = I."""
        for norm in (self.lgr.query_norm, self.lgr.key_norm):
            norm.reset_parameters()
        self.lgr.reset_attention()

    def _logits(self, x: torch.Tensor, classes: Optional[torch.Tensor]) -> torch.Tensor:
        """(N, in_features) -> [visual | language] logits; with a (K,) class subset the
        language logits of the other classes are -inf (IIF applied before, see
        :meth:`~ltr_plugins.core.vlltr.LanguageGuidedClassifier.subset_language_logits`)."""
        feats = self.proj(x)
        visual = adjust_logits(self.iif, self.lgr.visual(feats))
        if classes is None:
            language = adjust_logits(self.iif, self.lgr.language_logits(feats))
        else:
            language = self.lgr.subset_language_logits(feats, classes,
                                                       partial(adjust_logits, self.iif))
        return torch.cat([visual, language], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, in_features) RoI features -> (N, 2 (C + 1)) = [visual | language] logits,
        background last in each half (IIF-adjusted if ``iif`` is set)."""
        if self.training and self.train_class_subset:
            raise RuntimeError('LGRPredictor(train_class_subset=...) is trained through '
                               "forward_train(x, labels): use roi_head=dict(type="
                               "'LabelAwareRoIHead') (or its alias 'LGRRoIHead')")
        if self.training:
            check_finite(x, type(self).__name__, 'RoI features')
        return self._logits(x, None)

    def forward_train(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """As :meth:`forward` in training, given the (N,) RoI labels (background = C): with
        ``train_class_subset`` the language logits cover the positives' classes plus random
        others up to K (:func:`~ltr_plugins.core.vlltr.sample_class_subset`), -inf elsewhere
        (the :class:`~ltr_plugins.mmdet.heads.LabelAwareRoIHead` protocol)."""
        check_finite(x, type(self).__name__, 'RoI features')
        classes = None
        if self.train_class_subset:
            classes = sample_class_subset(labels[labels < self.num_classes], self.num_classes,
                                          self.train_class_subset)
        return self._logits(x, classes)


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
