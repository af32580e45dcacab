"""RoI heads: IIF-adjusted bbox head, CAMC bbox head (+ the RoI head that gives it labels);
the cosine classifier / conv as mmdet predictors."""
from typing import List, Optional, Tuple

import torch
from mmdet.models.roi_heads import StandardRoIHead
from mmdet.models.roi_heads.bbox_heads import Shared2FCBBoxHead
from mmdet.models.task_modules.samplers import SamplingResult
from mmdet.registry import MODELS
from mmdet.structures.bbox import bbox2roi
from mmengine.registry import MODELS as ROOT_MODELS

from ..core import (CAMCalibration, CAMCOutput, CosineClassifier, CosineConv2d, build_iif,
                    check_finite)

# The framework-free modules take mmdet's predictor arguments (in_features / out_features,
# in_channels / out_channels / kernel_size) as they are: register them as predictors, e.g.
# cls_predictor_cfg=dict(type='CosineClassifier', scale=20) in any BBoxHead and
# predictor_cfg=dict(type='CosineConv2d', scale=20) in FCNMaskHead. They go into mmengine's
# root registry, which every scope falls back to (mmcv's build_conv_layer looks there).
ROOT_MODELS.register_module('CosineClassifier', module=CosineClassifier)
ROOT_MODELS.register_module('CosineConv2d', module=CosineConv2d)


@MODELS.register_module()
class IIFShared2FCBBoxHead(Shared2FCBBoxHead):
    """``Shared2FCBBoxHead`` whose class logits are multiplied by IIF weights.

    The background logit (mmdet: last of ``num_classes + 1``) keeps weight 1.0. The adjusted
    logits feed mmdet's standard softmax ``CrossEntropyLoss`` in training and the softmax of
    ``predict_by_feat`` at inference. Combine with ``cls_predictor_cfg=dict(
    type='CosineClassifier', scale=8)`` for IIF on a cosine classifier.

    Args:
        iif (dict): ``stats`` (e.g. ``'lvis_v1'`` or a training json), ``variant``
            (default ``'raw'``), optional ``p_norm`` / ``clamp_negative``; see
            :func:`ltr_plugins.core.build_iif`.
        *args, **kwargs: as ``Shared2FCBBoxHead``.
    """

    def __init__(self, *args, iif: dict, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.custom_cls_channels or self.loss_cls.use_sigmoid:
            raise ValueError('IIFShared2FCBBoxHead needs a softmax classifier with a '
                             'background column: loss_cls must not use sigmoid or custom '
                             'class channels')
        self.iif = build_iif(self.num_classes, background=True, **iif)

    def forward(self, x: Tuple[torch.Tensor]) -> tuple:
        """RoI features (N, C, 7, 7) -> IIF-adjusted (N, K + 1) scores and box deltas."""
        if self.training:
            check_finite(x, type(self).__name__, 'RoI features')
        cls_score, bbox_pred = super().forward(x)
        return self.iif(cls_score), bbox_pred


@MODELS.register_module()
class CAMCShared2FCBBoxHead(Shared2FCBBoxHead):
    """``Shared2FCBBoxHead`` whose RoI feature map is calibrated by CAMC before the shared FCs.

    The head's own classifier (``fc_cls``, on the 1024-d FC output) cannot give CAMs on the
    (C, 7, 7) RoI map, so CAMC has its own RoI-level scaled cosine classifier ``camc_cls``
    (C -> K + 1, background last) on the GAP of the map: its weights give the CAMs, its logits
    are the first (uncalibrated) pass, trained by the auxiliary loss. The calibrated map then
    goes through the unchanged flatten -> shared FCs -> ``fc_cls`` / ``fc_reg``. With
    ``lam=0`` the outputs equal ``Shared2FCBBoxHead``'s.

    Training needs the RoI labels at forward time: use :class:`CAMCRoIHead`, whose
    ``bbox_loss`` computes them first and calls :meth:`forward_train`. At inference
    (``forward``) the target is the probability-weighted top-k of ``camc_cls``.

    Args:
        camc (dict): :class:`~ltr_plugins.core.CAMCalibration` options (``lam``, ``topk``,
            ``momentum``, ``corr_weight``, ``combine``, ``detach_map``, ``aux_weight``,
            ``train_target``).
        camc_scale: s of ``camc_cls`` (default 20, as mmdet's ``NormedLinear``).
        iif (dict, optional): IIF on both passes' logits (background weight 1), as
            :class:`IIFShared2FCBBoxHead`.
        *args, **kwargs: as ``Shared2FCBBoxHead`` (e.g. ``cls_predictor_cfg=dict(
            type='CosineClassifier', scale=20)`` for the scaled cosine ``fc_cls``).
    """

    def __init__(self, *args, camc: Optional[dict] = None, camc_scale: float = 20.0,
                 iif: Optional[dict] = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.custom_cls_channels or self.loss_cls.use_sigmoid:
            raise ValueError('CAMCShared2FCBBoxHead needs a softmax classifier with a '
                             'background column: loss_cls must not use sigmoid or custom '
                             'class channels')
        num_columns = self.num_classes + 1
        self.camc_cls = CosineClassifier(self.in_channels, num_columns, scale=camc_scale)
        self.camc = CAMCalibration(num_columns, self.in_channels, **(camc or {}))
        self.iif = build_iif(self.num_classes, background=True, **iif) if iif else None

    def _adjust(self, logits: torch.Tensor) -> torch.Tensor:
        return logits if self.iif is None else self.iif(logits)

    def camc_outputs(self, x: torch.Tensor,
                     labels: Optional[torch.Tensor] = None) -> CAMCOutput:
        """RoI maps (N, C, H, W) -> calibrated maps, calibration map, first-pass logits."""
        first = self._adjust(self.camc_cls(x.mean((2, 3))))
        return self.camc.calibrate(x, self.camc_cls.weight, first, labels)

    def forward_train(self, x: torch.Tensor, labels: torch.Tensor) -> tuple:
        """RoI maps and their (N,) labels -> calibrated (N, K + 1) scores, box deltas and the
        uncalibrated (N, K + 1) scores of ``camc_cls``; updates the class prototypes."""
        check_finite(x, type(self).__name__, 'RoI features')  # before the prototypes see them
        out = self.camc_outputs(x, labels)
        cls_score, bbox_pred = super().forward(out.feats)
        return self._adjust(cls_score), bbox_pred, out.aux_logits

    def forward(self, x: torch.Tensor) -> tuple:
        """RoI maps (N, C, 7, 7) -> calibrated (N, K + 1) scores and box deltas."""
        if self.training and torch.is_grad_enabled():
            # a plain StandardRoIHead would train without labels: predicted targets, no
            # prototypes, no auxiliary loss — refuse instead of silently degrading
            raise RuntimeError('CAMCShared2FCBBoxHead is trained through forward_train(x, '
                               "labels): set roi_head type='CAMCRoIHead'")
        cls_score, bbox_pred = super().forward(self.camc_outputs(x).feats)
        return self._adjust(cls_score), bbox_pred

    def loss_and_target(self, cls_score, bbox_pred, rois, sampling_results, rcnn_train_cfg,
                        concat: bool = True, reduction_override: Optional[str] = None,
                        aux_score: Optional[torch.Tensor] = None) -> dict:
        """As ``BBoxHead.loss_and_target``, plus ``loss_camc_aux`` on ``aux_score``."""
        targets = self.get_targets(sampling_results, rcnn_train_cfg, concat=concat)
        losses = self.loss(cls_score, bbox_pred, rois, *targets,
                           reduction_override=reduction_override, aux_score=aux_score)
        return dict(loss_bbox=losses, bbox_targets=targets)

    def loss(self, cls_score, bbox_pred, rois, labels, label_weights, bbox_targets,
             bbox_weights, reduction_override: Optional[str] = None,
             aux_score: Optional[torch.Tensor] = None) -> dict:
        losses = super().loss(cls_score, bbox_pred, rois, labels, label_weights, bbox_targets,
                              bbox_weights, reduction_override=reduction_override)
        if aux_score is not None and aux_score.numel() > 0 and self.camc.aux_weight > 0:
            avg_factor = max(torch.sum(label_weights > 0).float().item(), 1.)
            losses['loss_camc_aux'] = self.camc.auxiliary_loss(
                lambda logits: self.loss_cls(logits, labels, label_weights,
                                             avg_factor=avg_factor,
                                             reduction_override=reduction_override),
                aux_score)
        return losses


@MODELS.register_module()
class CAMCRoIHead(StandardRoIHead):
    """``StandardRoIHead`` that hands the sampled RoIs' labels to the bbox head's forward
    (mmdet's ``_bbox_forward`` passes only features), for :class:`CAMCShared2FCBBoxHead`.
    Inference and the mask branch are unchanged."""

    def bbox_loss(self, x: Tuple[torch.Tensor],
                  sampling_results: List[SamplingResult]) -> dict:
        if not hasattr(self.bbox_head, 'forward_train'):
            raise TypeError(f'CAMCRoIHead needs a bbox head with forward_train(x, labels) '
                            f'(e.g. CAMCShared2FCBBoxHead), got {type(self.bbox_head).__name__}')
        rois = bbox2roi([res.priors for res in sampling_results])
        bbox_feats = self.bbox_roi_extractor(x[:self.bbox_roi_extractor.num_inputs], rois)
        if self.with_shared_head:
            bbox_feats = self.shared_head(bbox_feats)
        # the same targets loss_and_target computes: positives' classes, background = K
        labels = self.bbox_head.get_targets(sampling_results, self.train_cfg)[0]
        cls_score, bbox_pred, aux_score = self.bbox_head.forward_train(bbox_feats, labels)
        loss_and_target = self.bbox_head.loss_and_target(
            cls_score=cls_score, bbox_pred=bbox_pred, rois=rois,
            sampling_results=sampling_results, rcnn_train_cfg=self.train_cfg,
            aux_score=aux_score)
        return dict(cls_score=cls_score, bbox_pred=bbox_pred, bbox_feats=bbox_feats,
                    loss_bbox=loss_and_target['loss_bbox'])
