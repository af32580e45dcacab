"""OLTR stage 2 for mmpretrain: feature neck (modulated attention, pooling, fc) and the
meta-embedding head with its centroid loss (math in :mod:`ltr_plugins.core.oltr`)."""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmpretrain.models.heads import ClsHead
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import nn

from ..core import DiscCentroidsLoss, MetaEmbedding, ModulatedAttention, check_finite


@MODELS.register_module()
class OLTRNeck(BaseModule):
    """OLTR's feature model tail: optional modulated attention on the last feature map, global
    average pooling, optional ``Linear(in_channels, out_channels) + ReLU`` (``use_fc``).

    Args:
        in_channels: channels of the last backbone map.
        out_channels: output size of the extra fc layer (512 in OLTR); ``None``: no fc layer.
        attention: add :class:`ModulatedAttention` (stage 2; zero-initialised, so a stage-1
            model's features are unchanged at the start).
        spatial_size: (H, W) of the last map (fixed by the attention's spatial fc).
        reduction: channel reduction of the non-local block.

    Shape:
        tuple of (N, C, H, W) -> tuple with one (N, out_channels or C).
    """

    def __init__(self, in_channels: int, out_channels: Optional[int] = 512,
                 attention: bool = True, spatial_size: Union[int, Sequence[int]] = 7,
                 reduction: int = 2, init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.attention = ModulatedAttention(in_channels, spatial_size, reduction) \
            if attention else None
        self.fc = nn.Linear(in_channels, out_channels) if out_channels else None

    def init_weights(self) -> None:
        super().init_weights()
        if self.attention is not None:  # keep the identity start whatever init_cfg says
            self.attention.reset_parameters()

    def forward(self, inputs: Tuple[torch.Tensor]) -> Tuple[torch.Tensor]:
        """Backbone outputs (last: (N, C, H, W)) -> ((N, out_channels or C),): attention,
        global average pooling, fc + ReLU."""
        x = inputs[-1]
        if self.attention is not None:
            x = self.attention(x)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        if self.fc is not None:
            x = F.relu(self.fc(x))
        return (x, )


@MODELS.register_module()
class MetaEmbeddingClsHead(ClsHead):
    """OLTR dynamic meta-embedding head: CE on the squashed-cosine logits of the meta
    embedding + ``centroid_loss_weight`` x discriminative centroid loss on the direct feature.

    The visual memory is ``loss_centroid.centroids`` (an ``nn.Parameter``; give it its own
    optimiser settings with ``paramwise_cfg.custom_keys={'loss_centroid.centroids': ...}``);
    the classifier reads a detached copy, so CE does not move it. It must hold class means
    before training: :class:`ltr_plugins.hooks.OLTRCentroidInitHook` sets them.

    Args:
        num_classes: C.
        in_channels: D, the direct feature size (the neck's output).
        reachability_scale: 10 (OLTR).
        cosine_scale: 16 (OLTR).
        centroid_loss_weight: 0.01 (OLTR).
        centroid_margin / repel_weight: of :class:`DiscCentroidsLoss` (10 / 0.01).
        init_hallucinator_from: key of a linear classifier inside this head in a loaded
            checkpoint (``'fc'``: a stage-1 ``LinearClsHead``); when the checkpoint has no
            hallucinator its weight and bias initialise it (OLTR stage 2). ``None``: off.
        loss: classification loss config (CE).
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 reachability_scale: float = 10.0,
                 cosine_scale: float = 16.0,
                 centroid_loss_weight: float = 0.01,
                 centroid_margin: float = 10.0,
                 repel_weight: float = 0.01,
                 init_hallucinator_from: Optional[str] = 'fc',
                 loss: dict = dict(type='CrossEntropyLoss', loss_weight=1.0),
                 init_cfg: Optional[dict] = None,
                 **kwargs) -> None:
        super().__init__(loss=loss, init_cfg=init_cfg, **kwargs)
        self.num_classes, self.in_channels = num_classes, in_channels
        self.meta_embedding = MetaEmbedding(in_channels, num_classes, reachability_scale,
                                            cosine_scale)
        self.loss_centroid = DiscCentroidsLoss(num_classes, in_channels, centroid_margin,
                                               repel_weight, loss_weight=centroid_loss_weight)
        self.centroid_loss_weight = centroid_loss_weight
        self.init_hallucinator_from = init_hallucinator_from

    def pre_logits(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        """The direct feature v (N, D)."""
        return feats[-1]

    def forward(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        """(N, D) direct features -> (N, C) logits."""
        return self.meta_embedding(self.pre_logits(feats),
                                   self.loss_centroid.centroids.detach())

    def loss(self, feats: Tuple[torch.Tensor], data_samples: List[DataSample],
             **kwargs) -> dict:
        if 'gt_score' in data_samples[0]:
            raise ValueError('MetaEmbeddingClsHead needs hard labels (gt_label); the centroid '
                             'loss is undefined for mixed / soft targets (batch augments)')
        feature = self.pre_logits(feats)
        check_finite(feature, type(self).__name__)  # before the centroid update sees it
        logits = self.meta_embedding(feature, self.loss_centroid.centroids.detach())
        losses = self._get_loss(logits, data_samples, **kwargs)
        labels = torch.cat([s.gt_label for s in data_samples]).to(feature.device)
        # the weight is applied inside (the memory update must not depend on it)
        losses['loss_centroid'] = self.loss_centroid(feature, labels)
        return losses

    @torch.no_grad()
    def centroid_features(self, model: nn.Module, inputs: torch.Tensor,
                          data_samples: List[DataSample]) -> Tuple[torch.Tensor, torch.Tensor]:
        """(features, labels) of one preprocessed batch for the centroid initialisation."""
        feats = model.extract_feat(inputs)
        labels = torch.cat([s.gt_label for s in data_samples]).to(inputs.device)
        return self.pre_logits(feats), labels

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        src = self.init_hallucinator_from
        dst = prefix + 'meta_embedding.hallucinator.'
        if src and dst + 'weight' not in state_dict and prefix + src + '.weight' in state_dict:
            for name in ('weight', 'bias'):
                value = state_dict.pop(prefix + src + '.' + name, None)
                if value is None:
                    continue
                expected = getattr(self.meta_embedding.hallucinator, name).shape
                if value.shape != expected:
                    raise ValueError(
                        f'{prefix}{src}.{name} of shape {tuple(value.shape)} cannot initialise '
                        f'the hallucinator ({tuple(expected)}): the stage-1 classifier must '
                        f'map the same feature size to the same classes')
                state_dict[dst + name] = value
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
