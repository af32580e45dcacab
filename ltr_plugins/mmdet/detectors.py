"""A two-stage detector of which only the RoI box head trains (decoupled classifier retraining).

Decoupling representation and classifier (Kang et al., ICLR 2020, "cRT") retrains the
classifier of a trained model on its frozen features; for detection the classifier lives in the
RoI box head. Freezing by learning rate (mmengine's ``lr_mult=0``) still runs the RPN and mask
losses and back-propagates them through neck, RPN and mask head for nothing. Here the frozen
parts have ``requires_grad=False``, run in eval mode and without autograd, and training computes
only the box head's losses, so a step costs the trunk's forward plus the box head's forward and
backward.

:class:`BoxHeadRetrainGroup` retrains the box heads of several such detectors on one frozen
trunk pass: K classifier-retraining runs of one trained detector for the cost of one trunk.
"""
import copy
from contextlib import contextmanager
from typing import Iterator, List, Sequence, Tuple

import torch
from mmdet.models.detectors import TwoStageDetector
from mmdet.models.roi_heads import StandardRoIHead
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmengine.model import BaseModel
from mmengine.structures import InstanceData
from torch import Tensor, nn


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


#: the parts of a two-stage detector that :class:`BoxHeadRetrainGroup`'s members share
GROUP_TRUNK = ('backbone', 'neck', 'rpn_head')


def _without_roi_head(cfg: dict) -> dict:
    return {k: v for k, v in cfg.items() if k != 'roi_head'}


@MODELS.register_module()
class BoxHeadRetrainGroup(BaseModel):
    """Several :class:`BoxHeadRetrainDetector` s that share one frozen trunk and train their box
    heads together, one trunk pass per batch: K classifier-retraining runs of one trained
    detector (e.g. K long-tail box heads compared on the same frozen model) for the cost of one
    trunk forward plus K box heads.

    Per batch: the trunk's features and RPN proposals are computed once
    (:meth:`BoxHeadRetrainDetector.frozen_trunk` of the first member); then each member's
    :meth:`~BoxHeadRetrainDetector.box_loss` runs on a copy of the proposals, starting from
    the same random-number state (torch's CPU generator, and CUDA's when present). Members
    with the same assigner and sampler (the trunk's ``train_cfg`` is shared) thus draw the same
    RoI samples: a paired comparison. A member whose head draws no random numbers of its own
    gets, step for step, the losses and gradients of its run alone (the random state after a
    step is that of the last member, the same for all of them then). The losses are the sum of
    the members' losses, keyed ``m<i>.<loss>``; each member's parameters receive only their
    own gradients, so optimizers that update each parameter from its own gradient (SGD, Adam(W),
    weight decay) step every member as alone. Global gradient clipping would couple them and
    is refused by the tools that build groups.

    Loading a checkpoint of a single detector (``load_from``) loads it into every member; the
    group's own checkpoints carry each member's weights under ``members.<i>.`` (see
    :func:`member_state_dict`). Testing is per member: a member is an ordinary detector.

    Args:
        members: the member detectors' configs (``BoxHeadRetrainDetector``), equal apart from
            ``roi_head``.
        data_preprocessor: the group's (the members' own are not used in training).
        init_cfg: as :class:`~mmengine.model.BaseModel`.
    """

    def __init__(self, members: Sequence[dict], data_preprocessor: dict = None,
                 init_cfg: dict = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if isinstance(members, dict) or len(members) < 1:
            raise ValueError('BoxHeadRetrainGroup: members must be a non-empty list of '
                             f'detector configs, got {members!r}')
        first = _without_roi_head(members[0])
        for i, cfg in enumerate(members):
            if cfg.get('type') != 'BoxHeadRetrainDetector':
                raise ValueError(f'BoxHeadRetrainGroup: member {i} is {cfg.get("type")!r}, '
                                 'not a BoxHeadRetrainDetector')
            rest = _without_roi_head(cfg)
            differing = sorted(k for k in set(first) | set(rest) if first.get(k) != rest.get(k))
            if differing:
                raise ValueError(f'BoxHeadRetrainGroup: member {i} differs from member 0 outside '
                                 f'roi_head in {differing}: the members share one trunk')
        self.members = nn.ModuleList(MODELS.build(copy.deepcopy(cfg)) for cfg in members)
        for member in self.members[1:]:  # one trunk object, the same weights by construction
            for name in GROUP_TRUNK:
                setattr(member, name, getattr(self.members[0], name))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        """A single detector's weights (no ``members.`` keys) go to every member."""
        plain = [k for k in state_dict if k.startswith(prefix)
                 and not k[len(prefix):].startswith('members.')]
        if plain and not any(k.startswith(prefix + 'members.') for k in state_dict):
            for key in plain:
                value = state_dict.pop(key)
                for i in range(len(self.members)):
                    state_dict[f'{prefix}members.{i}.{key[len(prefix):]}'] = value
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def train(self, mode: bool = True) -> 'BoxHeadRetrainGroup':
        """Each member's :meth:`BoxHeadRetrainDetector.train` (frozen parts stay in eval)."""
        super().train(mode)
        for member in self.members:
            member.train(mode)
        return self

    def forward(self, inputs: Tensor, data_samples: SampleList = None,
                mode: str = 'tensor') -> dict:
        """``mode='loss'``: :meth:`loss`. A group is not tested as a whole: every other mode
        raises ValueError."""
        if mode != 'loss':
            raise ValueError(f'BoxHeadRetrainGroup only trains (mode {mode!r} asked): test each '
                             'member as its own detector (member_state_dict)')
        return self.loss(inputs, data_samples)

    def loss(self, batch_inputs: Tensor, batch_data_samples: SampleList) -> dict:
        """(N, 3, H, W) images and their data samples -> every member's box losses."""
        x, proposals = self.members[0].frozen_trunk(batch_inputs, batch_data_samples)
        cuda = torch.cuda.is_available()
        cpu_state = torch.get_rng_state()
        cuda_state = torch.cuda.get_rng_state_all() if cuda else None
        losses = {}
        for i, member in enumerate(self.members):
            torch.set_rng_state(cpu_state)
            if cuda:
                torch.cuda.set_rng_state_all(cuda_state)
            member_losses = member.box_loss(x, [p.clone() for p in proposals],
                                            batch_data_samples)
            losses.update({f'm{i}.{k}': v for k, v in member_losses.items()})
        return losses


def member_state_dict(group_state: dict, index: int) -> dict:
    """The weights of member ``index`` in a :class:`BoxHeadRetrainGroup` state dict, as the
    state dict of that member alone (an ordinary detector checkpoint's ``state_dict``)."""
    prefix = f'members.{index}.'
    state = {k[len(prefix):]: v for k, v in group_state.items() if k.startswith(prefix)}
    if not state:
        raise KeyError(f'no weights of member {index} (keys {prefix}*) in the group state dict')
    return state
