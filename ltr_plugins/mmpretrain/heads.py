"""Classification heads: linear + IIF, cosine, cosine + IIF, CAMC (math in ltr_plugins.core)."""
from typing import List, Optional, Tuple

import torch
from mmpretrain.models.heads import ClsHead, LinearClsHead
from mmpretrain.registry import MODELS

from ..core import CAMCalibration, CAMCOutput, CosineClassifier, adjust_logits, check_finite
from ..datasets import build_iif_from_config


@MODELS.register_module()
class IIFLinearClsHead(LinearClsHead):
    """``LinearClsHead`` whose logits are multiplied by IIF weights, in training (before the
    loss) and at inference (before the softmax).

    Args:
        num_classes, in_channels: as ``LinearClsHead``.
        iif (dict): ``stats`` (a packaged table such as ``'imagenet_lt'``, a training
            annotation list, an LVIS json or a stats csv), ``variant`` (default ``'raw'``),
            optional ``p_norm`` / ``clamp_negative``. See
            :func:`ltr_plugins.datasets.build_iif_from_config`.

    Parameter names equal ``LinearClsHead``'s (``fc.*``) plus the ``iif.weights`` buffer, so a
    plain checkpoint loads for post-hoc IIF (the buffer then keeps the configured weights).
    """

    def __init__(self, num_classes: int, in_channels: int, iif: dict, **kwargs) -> None:
        super().__init__(num_classes, in_channels, **kwargs)
        self.iif = build_iif_from_config(num_classes, iif, required=True)

    def forward(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        """(N, in_channels) features -> (N, num_classes) IIF-adjusted logits."""
        return self.iif(super().forward(feats))

    def loss(self, feats: Tuple[torch.Tensor], data_samples: List, **kwargs) -> dict:
        check_finite(feats[-1], type(self).__name__)
        return super().loss(feats, data_samples, **kwargs)


@MODELS.register_module()
class CosineClsHead(ClsHead):
    """Normalized scaled classifier ``s * cos(x, w_c)`` (+ optional IIF on its logits).

    Args:
        num_classes: K.
        in_channels: feature dimension D.
        scale: s (CAMC / IIF classification use 16-30; mmdet's ``NormedLinear`` uses 20).
        learnable_scale: learn s.
        scale_param: how a learnable s is parameterised: ``'log'`` (default, s = exp(p)) or
            ``'sqrt'`` (s = p², the IIF reference's ``lr_cosine``; see
            :class:`~ltr_plugins.core.CosineClassifier`).
        bias: add a per-class bias after scaling.
        squash: CosNorm input squashing ``|x| / (1 + |x|)`` (OLTR's and the IIF reference's
            classification classifier).
        iif: optional IIF config, as :class:`IIFLinearClsHead`, applied after the cosine
            product (scaling weight rows before normalising would cancel it).
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 scale: float = 16.0,
                 learnable_scale: bool = False,
                 bias: bool = False,
                 squash: bool = False,
                 scale_param: str = 'log',
                 iif: Optional[dict] = None,
                 init_cfg: Optional[dict] = None,
                 **kwargs) -> None:
        super().__init__(init_cfg=init_cfg, **kwargs)
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.fc = CosineClassifier(in_channels, num_classes, scale=scale,
                                   learnable_scale=learnable_scale, bias=bias, squash=squash,
                                   scale_param=scale_param)
        self.iif = build_iif_from_config(num_classes, iif)

    def pre_logits(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        return feats[-1]

    def classify(self, pooled: torch.Tensor) -> torch.Tensor:
        """(N, C) pooled features -> (N, K) logits (cosine classifier, then IIF if set)."""
        return adjust_logits(self.iif, self.fc(pooled))

    def forward(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        """(N, in_channels) features -> (N, num_classes) logits."""
        return self.classify(self.pre_logits(feats))

    def loss(self, feats: Tuple[torch.Tensor], data_samples: List, **kwargs) -> dict:
        check_finite(feats[-1], type(self).__name__)
        return super().loss(feats, data_samples, **kwargs)


@MODELS.register_module()
class CAMCClsHead(CosineClsHead):
    """CAMC on the un-pooled feature map + the scaled cosine classifier (+ optional IIF).

    Use it with ``neck=None`` in an ``ImageClassifier``: it receives the backbone's last
    feature map (N, C, H, W) and does the pooling itself (GAP of the calibrated map). The head
    owns the classifier; the CAMC module (:class:`ltr_plugins.core.CAMCalibration`, with the
    class prototypes as buffers) takes its weight rows for the CAMs, so CAMs and logits come
    from one classifier, and the labels (only the head sees them) choose the training target.

    Args:
        num_classes, in_channels, scale, learnable_scale, scale_param, bias, squash, iif: as
            :class:`CosineClsHead` (IIF, if given, adjusts both passes' logits).
        camc (dict): :class:`~ltr_plugins.core.CAMCalibration` options: ``lam``, ``topk``,
            ``momentum``, ``corr_weight``, ``combine``, ``detach_map``, ``aux_weight``,
            ``train_target``.

    Losses: ``loss`` (calibrated logits, the head's ``loss`` module) and ``loss_camc_aux``
    (``aux_weight`` times the same loss on the uncalibrated logits).
    """

    def __init__(self, num_classes: int, in_channels: int, camc: Optional[dict] = None,
                 **kwargs) -> None:
        super().__init__(num_classes, in_channels, **kwargs)
        self.camc = CAMCalibration(num_classes, in_channels, **(camc or {}))

    def camc_outputs(self, feats: Tuple[torch.Tensor],
                     labels: Optional[torch.Tensor] = None) -> CAMCOutput:
        """Both passes, maps and pooled features for the last (N, C, H, W) feature map."""
        return self.camc(feats[-1], self.classify, self.fc.weight, labels)

    def pre_logits(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        """(N, C) pooled calibrated features (inference target: top-k of the first pass)."""
        return self.camc_outputs(feats).pooled

    def forward(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        """Calibrated (N, K) logits at inference (no labels)."""
        return self.camc_outputs(feats).logits

    def loss(self, feats: Tuple[torch.Tensor], data_samples: List, **kwargs) -> dict:
        check_finite(feats[-1], type(self).__name__)  # before the prototypes see them
        if 'gt_score' in data_samples[0]:
            labels = torch.stack([i.gt_score for i in data_samples])
        else:
            labels = torch.cat([i.gt_label for i in data_samples])
        out = self.camc_outputs(feats, labels)
        losses = self._get_loss(out.logits, data_samples, **kwargs)
        if self.camc.aux_weight > 0:
            losses['loss_camc_aux'] = self.camc.auxiliary_loss(
                lambda logits: self._get_loss(logits, data_samples, **kwargs)['loss'],
                out.aux_logits)
        return losses
