"""RoI heads: the label-aware RoI head protocol (:class:`LabelAwareRoIHead`), the IIF-adjusted
bbox head, the CAMC bbox head; the cosine classifier / conv as mmdet predictors."""
from typing import Callable, Dict, List, Optional, Tuple

import torch
from mmdet.models.roi_heads import StandardRoIHead
from mmdet.models.roi_heads.bbox_heads import BBoxHead, ConvFCBBoxHead, Shared2FCBBoxHead
from mmdet.models.task_modules.samplers import SamplingResult
from mmdet.registry import MODELS
from mmdet.structures.bbox import bbox2roi
from mmengine.registry import MODELS as ROOT_MODELS
from torch import Tensor, nn

from ..core import (CAMCalibration, CAMCOutput, CosineClassifier, CosineConv2d, adjust_logits,
                    check_finite)
from ..datasets import build_iif_from_config

# The framework-free modules take mmdet's predictor arguments (in_features / out_features,
# in_channels / out_channels / kernel_size) as they are: register them as predictors, e.g.
# cls_predictor_cfg=dict(type='CosineClassifier', scale=20) in any BBoxHead and
# predictor_cfg=dict(type='CosineConv2d', scale=20) in FCNMaskHead. They go into mmengine's
# root registry, which every scope falls back to (mmcv's build_conv_layer looks there).
ROOT_MODELS.register_module('CosineClassifier', module=CosineClassifier)
ROOT_MODELS.register_module('CosineConv2d', module=CosineConv2d)

#: what a training forward returns under the label-aware protocol: class scores, box deltas and
#: extra keyword arguments of the head's ``loss_and_target`` (e.g. ``aux_score``)
TrainOutputs = Tuple[Tensor, Optional[Tensor], Dict[str, Tensor]]


# ------------------------------------------------------------------------ shared bbox-head checks
def check_background_softmax(head: BBoxHead) -> None:
    """Raise ``ValueError`` unless ``head`` scores K + 1 columns (background last) with a
    softmax loss: IIF's background weight 1.0, CAMC's K + 1 prototypes and OLTR's background
    logit rely on that layout."""
    if head.custom_cls_channels or head.loss_cls.use_sigmoid:
        raise ValueError(f'{type(head).__name__} needs a softmax classifier with a background '
                         'column: loss_cls must not use sigmoid or custom class channels')


# ----------------------------------------------------------------- ConvFC branches, label-aware
def convfc_shared(head: ConvFCBBoxHead, x: Tensor) -> Tensor:
    """The shared convs / fcs of a ``ConvFCBBoxHead`` (as its ``forward``): (N, C, H, W) RoI
    features -> (N, D) shared output (or the conv map when it has no shared fc)."""
    for conv in head.shared_convs:
        x = conv(x)
    if head.num_shared_fcs > 0:
        if head.with_avg_pool:
            x = head.avg_pool(x)
        x = x.flatten(1)
        for fc in head.shared_fcs:
            x = head.relu(fc(x))
    return x


def convfc_branch(head: ConvFCBBoxHead, x: Tensor, convs: nn.ModuleList,
                  fcs: nn.ModuleList) -> Tensor:
    """One separate branch (cls or reg) of a ``ConvFCBBoxHead`` on the shared output: convs,
    pooling / flatten, fcs + ReLU (as its ``forward``)."""
    for conv in convs:
        x = conv(x)
    if x.dim() > 2:
        if head.with_avg_pool:
            x = head.avg_pool(x)
        x = x.flatten(1)
    for fc in fcs:
        x = head.relu(fc(x))
    return x


def convfc_forward_train(head: ConvFCBBoxHead, x: Tensor, labels: Tensor) -> TrainOutputs:
    """``ConvFCBBoxHead.forward`` of a training step whose cls predictor takes the RoI labels:
    ``fc_cls.forward_train(x_cls, labels)`` if the predictor has it (e.g.
    :class:`~ltr_plugins.mmdet.vlltr.LGRPredictor`), else ``fc_cls(x_cls)``. No extras."""
    shared = convfc_shared(head, x)
    x_cls = convfc_branch(head, shared, head.cls_convs, head.cls_fcs)
    x_reg = convfc_branch(head, shared, head.reg_convs, head.reg_fcs)
    cls_score = bbox_pred = None
    if head.with_cls:
        predictor = head.fc_cls
        cls_score = (predictor.forward_train(x_cls, labels)
                     if hasattr(predictor, 'forward_train') else predictor(x_cls))
    if head.with_reg:
        bbox_pred = head.fc_reg(x_reg)
    return cls_score, bbox_pred, {}


def label_aware_forward(head: BBoxHead) -> Optional[Callable[[Tensor, Tensor], TrainOutputs]]:
    """The training forward ``(RoI features, labels) -> (cls_score, bbox_pred, extras)`` of a
    bbox head that needs the sampled RoIs' labels, or None for a head that does not.

    The protocol: a bbox head needs them if it defines ``forward_train(x, labels)`` (CAMC,
    OLTR), or if it is a plain ``ConvFCBBoxHead`` whose cls predictor defines
    ``forward_train(x, labels)`` (LGR with a class subset); ``extras`` are passed to the head's
    ``loss_and_target`` as keyword arguments."""
    if hasattr(head, 'forward_train'):
        return head.forward_train
    if not hasattr(getattr(head, 'fc_cls', None), 'forward_train'):
        return None
    if not isinstance(head, ConvFCBBoxHead) or type(head).forward is not ConvFCBBoxHead.forward:
        raise TypeError(f'LabelAwareRoIHead: the cls predictor {type(head.fc_cls).__name__} '
                        f'takes the RoI labels, but {type(head).__name__} is not a plain '
                        'ConvFCBBoxHead (its own forward would skip them): give the bbox head '
                        'a forward_train(x, labels)')
    return lambda x, labels: convfc_forward_train(head, x, labels)


@MODELS.register_module()
class LabelAwareRoIHead(StandardRoIHead):
    """``StandardRoIHead`` whose training step gives the bbox head the sampled RoIs' labels
    (mmdet's ``_bbox_forward`` passes only features, ``loss_and_target`` only the sampling
    results): the one RoI head of the bbox heads that need the labels or an intermediate
    feature in training (:class:`CAMCShared2FCBBoxHead`,
    :class:`~ltr_plugins.mmdet.oltr.OLTRShared2FCBBoxHead`, a ``Shared2FCBBoxHead`` with
    :class:`~ltr_plugins.mmdet.vlltr.LGRPredictor`; see :func:`label_aware_forward`).

    Training: labels = the targets ``loss_and_target`` computes (positives' classes,
    background = K), then ``forward_train(RoI features, labels) -> (cls_score, bbox_pred,
    extras)`` and ``loss_and_target(..., **extras)``. With any other bbox head, inference and
    the mask branch it is ``StandardRoIHead``. Registered also as ``CAMCRoIHead`` and
    ``LGRRoIHead`` (the earlier names)."""

    def bbox_loss(self, x: Tuple[Tensor], sampling_results: List[SamplingResult]) -> dict:
        forward_train = label_aware_forward(self.bbox_head)
        if forward_train is None:
            return super().bbox_loss(x, sampling_results)
        rois = bbox2roi([res.priors for res in sampling_results])
        bbox_feats = self.bbox_roi_extractor(x[:self.bbox_roi_extractor.num_inputs], rois)
        if self.with_shared_head:
            bbox_feats = self.shared_head(bbox_feats)
        labels = self.bbox_head.get_targets(sampling_results, self.train_cfg)[0]
        cls_score, bbox_pred, extras = forward_train(bbox_feats, labels)
        loss_and_target = self.bbox_head.loss_and_target(
            cls_score=cls_score, bbox_pred=bbox_pred, rois=rois,
            sampling_results=sampling_results, rcnn_train_cfg=self.train_cfg, **extras)
        return dict(cls_score=cls_score, bbox_pred=bbox_pred, bbox_feats=bbox_feats,
                    loss_bbox=loss_and_target['loss_bbox'])


@MODELS.register_module()
class CAMCRoIHead(LabelAwareRoIHead):
    """Earlier name of :class:`LabelAwareRoIHead` (configs with ``type='CAMCRoIHead'``)."""


@MODELS.register_module()
class LGRRoIHead(LabelAwareRoIHead):
    """Earlier name of :class:`LabelAwareRoIHead` (configs with ``type='LGRRoIHead'``)."""


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
            :func:`ltr_plugins.datasets.build_iif_from_config`.
        *args, **kwargs: as ``Shared2FCBBoxHead``.
    """

    def __init__(self, *args, iif: dict, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        check_background_softmax(self)
        self.iif = build_iif_from_config(self.num_classes, iif, background=True, required=True)

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

    Training needs the RoI labels at forward time: use :class:`LabelAwareRoIHead` (or its
    alias ``CAMCRoIHead``), whose ``bbox_loss`` computes them first and calls
    :meth:`forward_train`. At inference (``forward``) the target is the probability-weighted
    top-k of ``camc_cls``.

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
        check_background_softmax(self)
        num_columns = self.num_classes + 1
        self.camc_cls = CosineClassifier(self.in_channels, num_columns, scale=camc_scale)
        self.camc = CAMCalibration(num_columns, self.in_channels, **(camc or {}))
        self.iif = build_iif_from_config(self.num_classes, iif, background=True)

    def camc_outputs(self, x: torch.Tensor,
                     labels: Optional[torch.Tensor] = None) -> CAMCOutput:
        """RoI maps (N, C, H, W) -> calibrated maps, calibration map, first-pass logits."""
        first = adjust_logits(self.iif, self.camc_cls(x.mean((2, 3))))
        return self.camc.calibrate(x, self.camc_cls.weight, first, labels)

    def forward_train(self, x: torch.Tensor, labels: torch.Tensor) -> TrainOutputs:
        """RoI maps and their (N,) labels -> calibrated (N, K + 1) scores, box deltas and
        ``{'aux_score'}``: the uncalibrated (N, K + 1) scores of ``camc_cls``; updates the
        class prototypes (the :class:`LabelAwareRoIHead` protocol)."""
        check_finite(x, type(self).__name__, 'RoI features')  # before the prototypes see them
        out = self.camc_outputs(x, labels)
        cls_score, bbox_pred, _ = convfc_forward_train(self, out.feats, labels)
        return adjust_logits(self.iif, cls_score), bbox_pred, dict(aux_score=out.aux_logits)

    def forward(self, x: torch.Tensor) -> tuple:
        """RoI maps (N, C, 7, 7) -> calibrated (N, K + 1) scores and box deltas."""
        if self.training and torch.is_grad_enabled():
            # a plain StandardRoIHead would train without labels: predicted targets, no
            # prototypes, no auxiliary loss — refuse instead of silently degrading
            raise RuntimeError('CAMCShared2FCBBoxHead is trained through forward_train(x, '
                               "labels): set roi_head type='LabelAwareRoIHead' (or its alias "
                               "'CAMCRoIHead')")
        cls_score, bbox_pred = super().forward(self.camc_outputs(x).feats)
        return adjust_logits(self.iif, cls_score), bbox_pred

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
