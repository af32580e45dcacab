"""Classification heads: linear + IIF, cosine, cosine + IIF, CAMC, linear + post-hoc
corrections (math in ltr_plugins.core)."""
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmpretrain.models.heads import ClsHead, LinearClsHead
from mmpretrain.registry import MODELS

from ..core import (CAMCalibration, CAMCOutput, CosineClassifier, LogitAdjustment, adjust_logits,
                    check_finite, tau_normalize)
from ..datasets import ClassStats, build_iif_from_config


def load_class_counts(stats, num_classes: int, owner: str):
    """(K,) training counts per class and the class names of a ``stats`` source (a
    :class:`ClassStats` or anything :meth:`ClassStats.load` reads: a training list, a packaged
    table, a stats csv); raises when its class count is not the head's ``num_classes``."""
    if not isinstance(stats, ClassStats):
        stats = ClassStats.load(stats)
    if stats.num_classes != num_classes:
        raise ValueError(f'{owner}: class statistics {stats.source} have {stats.num_classes} '
                         f'classes but num_classes={num_classes}')
    return stats.image_counts, stats.classes


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


@MODELS.register_module()
class PostHocLinearClsHead(LinearClsHead):
    """``LinearClsHead`` with test-time-only corrections of a trained classifier.

    Training (``loss``) and ``forward`` are exactly ``LinearClsHead``'s; ``predict`` applies, in
    this order:

    - ``tau_norm=dict(tau=1.0, bias=False)``: tau-normalised weight rows ``w_c / ||w_c||^tau``
      (Kang et al., ICLR 2020, :func:`ltr_plugins.core.tau_normalize`); the reference computes
      these logits without the bias (``bias=False``), ``bias=True`` keeps it;
    - ``logit_adjustment=dict(tau=1.0, stats=...)``: ``z_c - tau * log(pi_c)`` (Menon et al.,
      ICLR 2021, :class:`ltr_plugins.core.LogitAdjustment`), ``pi`` the class prior of the
      training statistics ``stats`` (a training list, a packaged table, a stats csv).

    Args:
        num_classes, in_channels: as ``LinearClsHead``.
        tau_norm: the tau-normalisation options, or None.
        logit_adjustment: the logit-adjustment options, or None.

    The parameters are ``LinearClsHead``'s (``fc.*``; the prior is a non-persistent buffer), so
    a plain checkpoint loads whole: test it with ``tools/test.py`` and this head's config.
    """

    def __init__(self, num_classes: int, in_channels: int, tau_norm: Optional[dict] = None,
                 logit_adjustment: Optional[dict] = None, **kwargs) -> None:
        super().__init__(num_classes, in_channels, **kwargs)
        name = type(self).__name__
        if not tau_norm and not logit_adjustment:
            raise ValueError(f'{name}: set tau_norm=dict(tau=...) and/or '
                             'logit_adjustment=dict(tau=..., stats=...)')
        self.tau_norm = None
        if tau_norm:
            unknown = set(tau_norm) - {'tau', 'bias'}
            if unknown:
                raise ValueError(f'{name}: unknown tau_norm option(s) {sorted(unknown)}')
            self.tau_norm = dict(tau=float(tau_norm.get('tau', 1.0)),
                                 bias=bool(tau_norm.get('bias', False)))
        self.logit_adjustment = None
        if logit_adjustment:
            options = dict(logit_adjustment)
            if 'stats' not in options:
                raise ValueError(f'{name}: logit_adjustment needs "stats" (the training list, '
                                 'a packaged table or a stats csv)')
            counts, classes = load_class_counts(options.pop('stats'), num_classes,
                                                f'{name}.logit_adjustment')
            unknown = set(options) - {'tau'}
            if unknown:
                raise ValueError(f'{name}: unknown logit_adjustment option(s) {sorted(unknown)}')
            self.logit_adjustment = LogitAdjustment.from_counts(
                counts, tau=options.get('tau', 1.0), class_names=classes)

    def corrected_logits(self, pre_logits: torch.Tensor) -> torch.Tensor:
        """(N, in_channels) features -> (N, num_classes) corrected logits."""
        weight, bias = self.fc.weight, self.fc.bias
        if self.tau_norm is not None:
            weight = tau_normalize(weight, self.tau_norm['tau'])
            bias = bias if self.tau_norm['bias'] else None
        logits = F.linear(pre_logits, weight, bias)
        if self.logit_adjustment is not None:
            logits = self.logit_adjustment(logits)
        return logits

    def predict(self, feats: Tuple[torch.Tensor], data_samples: Optional[List] = None) -> List:
        """Predictions from the corrected logits (training is untouched)."""
        return self._get_predictions(self.corrected_logits(self.pre_logits(feats)),
                                     data_samples)
