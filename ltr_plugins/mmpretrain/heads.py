"""Classification heads: linear + IIF, cosine, cosine + IIF (math in ltr_plugins.core)."""
from typing import Optional, Tuple

import torch
from mmpretrain.models.heads import ClsHead, LinearClsHead
from mmpretrain.registry import MODELS

from ..core import CosineClassifier, build_iif


@MODELS.register_module()
class IIFLinearClsHead(LinearClsHead):
    """``LinearClsHead`` whose logits are multiplied by IIF weights, in training (before the
    loss) and at inference (before the softmax).

    Args:
        num_classes, in_channels: as ``LinearClsHead``.
        iif (dict): ``stats`` (a packaged table such as ``'imagenet_lt'``, a training
            annotation list, an LVIS json or a stats csv), ``variant`` (default ``'raw'``),
            optional ``p_norm`` / ``clamp_negative``. See :func:`ltr_plugins.core.build_iif`.

    Parameter names equal ``LinearClsHead``'s (``fc.*``) plus the ``iif.weights`` buffer, so a
    plain checkpoint loads for post-hoc IIF (the buffer then keeps the configured weights).
    """

    def __init__(self, num_classes: int, in_channels: int, iif: dict, **kwargs) -> None:
        super().__init__(num_classes, in_channels, **kwargs)
        self.iif = build_iif(num_classes, **iif)

    def forward(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        """(N, in_channels) features -> (N, num_classes) IIF-adjusted logits."""
        return self.iif(super().forward(feats))


@MODELS.register_module()
class CosineClsHead(ClsHead):
    """Normalized scaled classifier ``s * cos(x, w_c)`` (+ optional IIF on its logits).

    Args:
        num_classes: K.
        in_channels: feature dimension D.
        scale: s (CAMC / IIF classification use 16-30; mmdet's ``NormedLinear`` uses 20).
        learnable_scale: learn s (kept positive).
        bias: add a per-class bias after scaling.
        squash: OLTR's CosNorm input squashing ``|x| / (1 + |x|)``.
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
                 iif: Optional[dict] = None,
                 init_cfg: Optional[dict] = None,
                 **kwargs) -> None:
        super().__init__(init_cfg=init_cfg, **kwargs)
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.fc = CosineClassifier(in_channels, num_classes, scale=scale,
                                   learnable_scale=learnable_scale, bias=bias, squash=squash)
        self.iif = build_iif(num_classes, **iif) if iif else None

    def pre_logits(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        return feats[-1]

    def forward(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        """(N, in_channels) features -> (N, num_classes) logits."""
        logits = self.fc(self.pre_logits(feats))
        return logits if self.iif is None else self.iif(logits)
