"""A two-stage detector of which only the RoI box head trains (decoupled classifier retraining).

Decoupling representation and classifier (Kang et al., ICLR 2020, "cRT") retrains the
classifier of a trained model on its frozen features; for detection the classifier lives in the
RoI box head. Freezing by learning rate (mmengine's ``lr_mult=0``) still runs the RPN and mask
losses and back-propagates them through neck, RPN and mask head for nothing. Here the frozen
parts have ``requires_grad=False``, run in eval mode and without autograd, and training computes
only the box head's losses, so a step costs the trunk's forward plus the box head's forward and
backward.
"""
from contextlib import contextmanager
from typing import Iterator, Sequence

import torch
from mmdet.models.detectors import TwoStageDetector
from mmdet.models.roi_heads import StandardRoIHead
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from torch import Tensor


@contextmanager
def _mask_branch_off(roi_head: StandardRoIHead) -> Iterator[None]:
    """``roi_head.with_mask`` is False inside: ``StandardRoIHead.loss`` skips the mask loss."""
    mask_head = roi_head.mask_head
    roi_head.mask_head = None
    try:
        yield
    finally:
        roi_head.mask_head = mask_head


@MODELS.register_module()
class BoxHeadRetrainDetector(TwoStageDetector):
    """A :class:`TwoStageDetector` (Faster / Mask R-CNN, same arguments) of which only
    (parts of) ``roi_head.bbox_head`` train: the decoupled classifier-retraining stage of a
    trained detector (load its weights with ``load_from``).

    Training, per batch: backbone and neck features and the RPN proposals
    (``train_cfg.rpn_proposal``, exactly as :meth:`TwoStageDetector.loss` makes them) under
    ``torch.no_grad``; then the RoI head's assignment, sampling and box loss
    (``roi_head.loss`` without its mask branch). The losses are those of the box head only
    (``loss_cls``, ``acc``, ``loss_bbox``): the RPN and mask losses would only move frozen
    weights. Every parameter outside ``trainable`` has ``requires_grad=False`` and every module
    outside it stays in eval mode (BN statistics included), so frozen weights stay
    bit-identical. Inference is :class:`TwoStageDetector`'s.

    Args:
        trainable: names of the modules that train, each ``roi_head.bbox_head`` or below it
            (e.g. ``['roi_head.bbox_head.fc_cls']``: the classifier alone).
        **kwargs: :class:`TwoStageDetector`'s arguments.
    """

    def __init__(self, trainable: Sequence[str] = ('roi_head.bbox_head', ), **kwargs) -> None:
        super().__init__(**kwargs)
        if not self.with_rpn or not self.with_roi_head or not self.roi_head.with_bbox:
            raise ValueError('BoxHeadRetrainDetector needs rpn_head, roi_head and '
                             'roi_head.bbox_head in the model config')
        if isinstance(trainable, str) or not trainable:
            raise ValueError(f'BoxHeadRetrainDetector: trainable must be a non-empty list of '
                             f'module names, got {trainable!r}')
        modules = dict(self.named_modules())
        for name in trainable:
            if name not in modules or not (name + '.').startswith('roi_head.bbox_head.'):
                raise ValueError(f'BoxHeadRetrainDetector: trainable module {name!r} is not '
                                 'roi_head.bbox_head or a module below it (only the box loss '
                                 'is computed)')
        self.trainable = [modules[name] for name in trainable]
        self.requires_grad_(False)
        for module in self.trainable:
            module.requires_grad_(True)

    def train(self, mode: bool = True) -> 'BoxHeadRetrainDetector':
        """Set the ``trainable`` modules to ``mode``; every other module stays in eval mode,
        except the flags of the detector, its RoI head and box head themselves, which select
        their training code paths (losses, sampling) and follow ``mode``."""
        super().train(False)
        for module in (self, self.roi_head, self.roi_head.bbox_head):
            module.training = mode
        for module in self.trainable:
            module.train(mode)
        return self

    def loss(self, batch_inputs: Tensor, batch_data_samples: SampleList) -> dict:
        """(N, 3, H, W) images and their data samples -> the box head's losses."""
        with torch.no_grad():
            x = self.extract_feat(batch_inputs)
            proposal_cfg = self.train_cfg.get('rpn_proposal', self.test_cfg.rpn)
            proposals = self.rpn_head.predict_by_feat(
                *self.rpn_head(x), batch_img_metas=[s.metainfo for s in batch_data_samples],
                cfg=proposal_cfg)
        with _mask_branch_off(self.roi_head):
            return self.roi_head.loss(x, proposals, batch_data_samples)
