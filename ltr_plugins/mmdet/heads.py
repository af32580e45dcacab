"""RoI heads: IIF-adjusted bbox head; the cosine classifier / conv as mmdet predictors."""
from typing import Tuple

import torch
from mmdet.models.roi_heads.bbox_heads import Shared2FCBBoxHead
from mmdet.registry import MODELS
from mmengine.registry import MODELS as ROOT_MODELS

from ..core import CosineClassifier, CosineConv2d, build_iif

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
        cls_score, bbox_pred = super().forward(x)
        return self.iif(cls_score), bbox_pred
