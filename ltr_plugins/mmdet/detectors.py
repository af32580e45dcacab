"""A two-stage detector of which only the RoI box head trains (decoupled classifier retraining).

Decoupling representation and classifier (Kang et al., ICLR 2020, "cRT") retrains the
classifier of a trained model on its frozen features; for detection the classifier lives in the
RoI box head. Freezing by learning rate (mmengine's ``lr_mult=0``) still runs the RPN and mask
losses and back-propagates them through neck, RPN and mask head for nothing. Here the frozen
parts have ``requires_grad=False``, run in eval mode and without autograd, and training computes
only the box head's losses, so a step costs the trunk's forward plus the box head's forward and
backward.

:class:`BoxHeadRetrainGroup` retrains the box heads of several such detectors on one frozen
trunk pass: K classifier-retraining runs of one trained detector for the cost of one trunk;
it also tests them on one trunk pass per test batch.
"""
from contextlib import contextmanager
from typing import Iterator, List, Sequence, Tuple

import torch
from mmdet.models.detectors import TwoStageDetector
from mmdet.models.roi_heads import StandardRoIHead
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmengine.structures import InstanceData
from torch import Tensor, nn

from ..retrain_group import RetrainGroup


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

    @torch.no_grad()
    def frozen_trunk(self, batch_inputs: Tensor, batch_data_samples: SampleList
                     ) -> Tuple[Tuple[Tensor, ...], List[InstanceData]]:
        """(N, 3, H, W) images -> (neck features, RPN proposals per image), without autograd;
        the proposals use ``train_cfg.rpn_proposal``, as :meth:`TwoStageDetector.loss`."""
        x = self.extract_feat(batch_inputs)
        proposal_cfg = self.train_cfg.get('rpn_proposal', self.test_cfg.rpn)
        proposals = self.rpn_head.predict_by_feat(
            *self.rpn_head(x), batch_img_metas=[s.metainfo for s in batch_data_samples],
            cfg=proposal_cfg)
        return x, proposals

    def predict_trunk(self, batch_inputs: Tensor, batch_data_samples: SampleList
                      ) -> Tuple[Tuple[Tensor, ...], List[InstanceData]]:
        """(N, 3, H, W) images -> (neck features, proposals per image) at test time, as
        :meth:`TwoStageDetector.predict` makes them (``test_cfg.rpn``, or the samples' own
        ``proposals``) before its RoI head."""
        x = self.extract_feat(batch_inputs)
        if batch_data_samples[0].get('proposals', None) is None:
            return x, self.rpn_head.predict(x, batch_data_samples, rescale=False)
        return x, [sample.proposals for sample in batch_data_samples]

    def box_loss(self, x: Tuple[Tensor, ...], proposals: List[InstanceData],
                 batch_data_samples: SampleList) -> dict:
        """The RoI head's assignment, sampling and box losses for :meth:`frozen_trunk`'s output
        (``roi_head.loss`` without its mask branch; it consumes ``proposals``)."""
        with _mask_branch_off(self.roi_head):
            return self.roi_head.loss(x, proposals, batch_data_samples)

    def loss(self, batch_inputs: Tensor, batch_data_samples: SampleList) -> dict:
        """(N, 3, H, W) images and their data samples -> the box head's losses."""
        x, proposals = self.frozen_trunk(batch_inputs, batch_data_samples)
        return self.box_loss(x, proposals, batch_data_samples)


@MODELS.register_module()
class BoxHeadRetrainGroup(RetrainGroup):
    """Several :class:`BoxHeadRetrainDetector` s that share one frozen trunk and train their box
    heads together, one trunk pass per batch: K classifier-retraining runs of one trained
    detector (e.g. K long-tail box heads compared on the same frozen model) for the cost of one
    trunk forward plus K RoI heads (:class:`~ltr_plugins.retrain_group.RetrainGroup`).

    Per batch: the features and RPN proposals are computed once
    (:meth:`BoxHeadRetrainDetector.frozen_trunk` of the first member); then each member's
    :meth:`~BoxHeadRetrainDetector.box_loss` runs on a copy of the proposals, from the same
    random-number state (torch's CPU generator, and CUDA's when present). Members with the same
    assigner and sampler (the trunk's ``train_cfg`` is shared) thus draw the same RoI samples,
    and a member whose head draws no random numbers of its own gets, step for step, the losses
    and gradients of its run alone. The losses are the members', keyed ``m<i>.<loss>``. Each
    member starts from the weights of its run alone (a classifier no checkpoint gives
    included), and the group draws the random stream of its first member's run alone: the first
    member's run is its run alone, and another member's run is the same in any group with the
    same first member.

    Prediction (:meth:`~ltr_plugins.retrain_group.RetrainGroup.predict`), per batch: the
    features and RPN proposals once (:meth:`BoxHeadRetrainDetector.predict_trunk`); then each
    member's ``roi_head.predict`` on a copy of the proposals: each member's detections are
    those it makes alone.

    Args:
        members: the member detectors' configs (``BoxHeadRetrainDetector``), equal apart from
            ``roi_head``.
        data_preprocessor: the group's (the members' own are not used in training).
        init_cfg: as :class:`~mmengine.model.BaseModel`.
    """
    HEAD_PARTS = ('roi_head', )
    TRUNK = ('backbone', 'neck', 'rpn_head')

    def build_member(self, cfg: dict) -> nn.Module:
        return MODELS.build(cfg)

    @classmethod
    def check_member(cls, index: int, cfg: dict) -> None:
        if cfg.get('type') != 'BoxHeadRetrainDetector':
            raise ValueError(f'BoxHeadRetrainGroup: member {index} is {cfg.get("type")!r}, '
                             'not a BoxHeadRetrainDetector')

    def trunk_forward(self, inputs: Tensor, data_samples: SampleList
                      ) -> Tuple[Tuple[Tensor, ...], List[InstanceData]]:
        return self.members[0].frozen_trunk(inputs, data_samples)

    def member_loss(self, member: nn.Module, trunk_out, data_samples: SampleList) -> dict:
        x, proposals = trunk_out
        return member.box_loss(x, [p.clone() for p in proposals], data_samples)

    def trunk_predict(self, inputs: Tensor, data_samples: SampleList
                      ) -> Tuple[Tuple[Tensor, ...], List[InstanceData]]:
        return self.members[0].predict_trunk(inputs, data_samples)

    def member_predict(self, member: nn.Module, trunk_out, data_samples: SampleList
                       ) -> SampleList:
        x, proposals = trunk_out
        results = member.roi_head.predict(x, [p.clone() for p in proposals], data_samples,
                                          rescale=True)
        return member.add_pred_to_datasample(data_samples, results)
