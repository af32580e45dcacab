"""OLTR's meta-embedding head on Mask R-CNN RoI features (math in ltr_plugins.core.oltr)."""
from typing import List, Optional, Tuple

import torch
from mmdet.models.roi_heads.bbox_heads import Shared2FCBBoxHead
from mmdet.registry import MODELS
from mmdet.structures.bbox import bbox2roi
from torch import Tensor, nn

from ..core import DiscCentroidsLoss, MetaEmbedding, check_finite
from .heads import TrainOutputs, check_background_softmax, convfc_branch, convfc_shared


@MODELS.register_module()
class OLTRShared2FCBBoxHead(Shared2FCBBoxHead):
    """``Shared2FCBBoxHead`` whose classifier is OLTR's dynamic meta-embedding.

    The direct feature v is the shared fc output (``fc_out_channels``). The foreground logits
    are the meta-embedding's squashed-cosine logits over the C foreground classes (visual
    memory: one centroid per foreground class); the background logit is an ordinary linear
    logit ``fc_bg(v)``, appended last as mmdet expects. Training adds
    ``centroid_loss_weight`` x the discriminative centroid loss on the positive (GT-matched)
    RoIs' direct features, so training needs ``roi_head=dict(type='LabelAwareRoIHead')``
    (:meth:`forward_train` hands the direct features to ``loss_and_target``). Box regression
    is unchanged.

    Args:
        reachability_scale, cosine_scale: of :class:`MetaEmbedding` (10, 16).
        centroid_loss_weight: 0.01 (OLTR).
        centroid_margin, repel_weight: of :class:`DiscCentroidsLoss` (10, 0.01).
        open_set_threshold: if set, at inference a RoI whose maximum foreground probability is
            below it is rejected as unknown: its foreground scores become 0, so no detection
            comes from it. ``None`` (default): no rejection.
        init_hallucinator_from: name of the linear classifier in a loaded stage-1 checkpoint of
            this head (``'fc_cls'``); when the checkpoint has no hallucinator, its foreground
            rows initialise the hallucinator and its background row ``fc_bg``. ``None``: off.
        *args, **kwargs: as ``Shared2FCBBoxHead`` (softmax CE ``loss_cls``).

    The memory must hold class means before training (:class:`ltr_plugins.hooks.
    OLTRCentroidInitHook`: GT-box RoI features of the training set).
    """

    def __init__(self, *args, reachability_scale: float = 10.0, cosine_scale: float = 16.0,
                 centroid_loss_weight: float = 0.01, centroid_margin: float = 10.0,
                 repel_weight: float = 0.01, open_set_threshold: Optional[float] = None,
                 init_hallucinator_from: Optional[str] = 'fc_cls', **kwargs) -> None:
        super().__init__(*args, **kwargs)
        check_background_softmax(self)
        if self.num_cls_fcs or self.num_cls_convs:
            raise ValueError('OLTRShared2FCBBoxHead: the direct feature is the shared branch '
                             'output; separate classification convs / fcs are not supported')
        dim = self.cls_last_dim
        del self.fc_cls  # replaced by the meta-embedding (foreground) + fc_bg (background)
        self.meta_embedding = MetaEmbedding(dim, self.num_classes, reachability_scale,
                                            cosine_scale)
        self.fc_bg = nn.Linear(dim, 1)
        self.loss_centroid = DiscCentroidsLoss(self.num_classes, dim, centroid_margin,
                                               repel_weight, loss_weight=centroid_loss_weight)
        self.centroid_loss_weight = centroid_loss_weight
        self.open_set_threshold = open_set_threshold
        self.init_hallucinator_from = init_hallucinator_from
        init_cfg = [self.init_cfg] if isinstance(self.init_cfg, dict) else self.init_cfg or []
        self.init_cfg = [c for c in init_cfg if 'fc_cls' not in str(c.get('override', ''))]

    def direct_feature(self, x: Tensor) -> Tensor:
        """(N, C, 7, 7) RoI features -> (N, D) shared-branch output v."""
        return convfc_shared(self, x)

    def _scores(self, v: Tensor) -> Tuple[Tensor, Optional[Tensor]]:
        """(N, D) direct features -> (N, C + 1) class logits (background last), box deltas."""
        fg = self.meta_embedding(v, self.loss_centroid.centroids.detach())
        cls_score = torch.cat([fg, self.fc_bg(v).to(fg.dtype)], dim=1)
        x_reg = convfc_branch(self, v, self.reg_convs, self.reg_fcs)
        return cls_score, (self.fc_reg(x_reg) if self.with_reg else None)

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        """RoI features -> (N, C + 1) class logits (background last) and box deltas."""
        return self._scores(self.direct_feature(x))

    def forward_train(self, x: Tensor, labels: Tensor) -> TrainOutputs:
        """RoI features, (N,) labels (unused) -> class logits, box deltas and
        ``{'direct_feature': v}`` for the centroid loss in :meth:`loss_and_target` (the
        :class:`~ltr_plugins.mmdet.heads.LabelAwareRoIHead` protocol)."""
        check_finite(x, type(self).__name__, 'RoI features')  # before the centroids see them
        v = self.direct_feature(x)
        cls_score, bbox_pred = self._scores(v)
        return cls_score, bbox_pred, dict(direct_feature=v)

    def loss_and_target(self, cls_score: Tensor, bbox_pred: Tensor, rois: Tensor,
                        sampling_results: list, rcnn_train_cfg, concat: bool = True,
                        reduction_override: Optional[str] = None,
                        direct_feature: Optional[Tensor] = None) -> dict:
        """As ``BBoxHead.loss_and_target``, plus ``loss_centroid`` on the positive RoIs'
        ``direct_feature`` (N, D) (from :meth:`forward_train`)."""
        v = direct_feature
        if v is None or v.shape[0] != cls_score.shape[0]:
            raise RuntimeError('OLTRShared2FCBBoxHead.loss_and_target needs the direct '
                               'features of the training forward (forward_train): set '
                               "roi_head type='LabelAwareRoIHead'")
        out = super().loss_and_target(cls_score, bbox_pred, rois, sampling_results,
                                      rcnn_train_cfg, concat, reduction_override)
        labels = out['bbox_targets'][0]
        if not concat:
            labels = torch.cat(labels)
        pos = labels < self.num_classes  # background label = num_classes
        # the weight is applied inside (the memory update must not depend on it)
        out['loss_bbox']['loss_centroid'] = self.loss_centroid(v[pos], labels[pos])
        return out

    def _predict_by_feat_single(self, roi: Tensor, cls_score: Tensor, bbox_pred: Tensor,
                                img_meta: dict, rescale: bool = False, rcnn_test_cfg=None):
        if self.open_set_threshold is not None and cls_score is not None:
            probs = torch.softmax(cls_score.float(), dim=-1)
            unknown = probs[:, :self.num_classes].max(dim=1).values < self.open_set_threshold
            cls_score = cls_score.clone()
            # softmax of these rows puts all mass on background: no detection from them
            cls_score[unknown, :self.num_classes] = float('-inf')
        return super()._predict_by_feat_single(roi, cls_score, bbox_pred, img_meta, rescale,
                                               rcnn_test_cfg)

    @torch.no_grad()
    def centroid_features(self, model: nn.Module, inputs: Tensor,
                          data_samples: List) -> Tuple[Tensor, Tensor]:
        """(direct features, labels) of the GT boxes of one preprocessed batch (the centroid
        initialisation: RoI features of every training instance)."""
        feats = model.extract_feat(inputs)
        roi_head = model.roi_head
        rois = bbox2roi([s.gt_instances.bboxes for s in data_samples])
        roi_feats = roi_head.bbox_roi_extractor(feats[:roi_head.bbox_roi_extractor.num_inputs],
                                                rois)
        if roi_head.with_shared_head:
            roi_feats = roi_head.shared_head(roi_feats)
        labels = torch.cat([s.gt_instances.labels for s in data_samples]).to(rois.device)
        return self.direct_feature(roi_feats), labels

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        src, c = self.init_hallucinator_from, self.num_classes
        hal = prefix + 'meta_embedding.hallucinator.'
        if src and hal + 'weight' not in state_dict and prefix + src + '.weight' in state_dict:
            weight = state_dict.pop(prefix + src + '.weight')
            bias = state_dict.pop(prefix + src + '.bias', None)
            if weight.shape != (c + 1, self.cls_last_dim):
                raise ValueError(
                    f'{prefix}{src}.weight of shape {tuple(weight.shape)} cannot initialise the '
                    f'hallucinator: expected ({c + 1}, {self.cls_last_dim}) (foreground rows, '
                    f'then background)')
            state_dict[hal + 'weight'], state_dict[prefix + 'fc_bg.weight'] = \
                weight[:c], weight[c:]
            if bias is not None:
                state_dict[hal + 'bias'], state_dict[prefix + 'fc_bg.bias'] = bias[:c], bias[c:]
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
