"""Several classifier-retraining runs of one trained model, trained together on one pass of
its frozen trunk per batch (the base of the mmdet and mmpretrain groups).

Decoupled classifier retraining (Kang et al., ICLR 2020) of K heads on the same frozen model
spends K trunk forwards per batch when the K runs are made one by one. A group runs the trunk
once and every member's head on its output. Each member's loss starts from the same
random-number state, so members with the same samplers draw the same samples (a paired
comparison), and a member whose head draws no random numbers of its own trains, step for step,
as it would alone (tested to the bit). Optimizers that update each weight from its own
gradient (SGD, Adam(W), weight decay) step every member as alone; a gradient norm over all
weights (clipping) would couple them.
"""
import copy
from typing import Any, Sequence

import torch
from mmengine.model import BaseModel
from torch import Tensor, nn


class RetrainGroup(BaseModel):
    """Members (full models of one config family, equal outside :attr:`HEAD_PARTS`) sharing one
    trunk object (:attr:`TRUNK`, frozen). Subclasses define the trunk's pass and a member's loss
    on it.

    Loading a single model's checkpoint (``load_from``) loads it into every member; the group's
    own checkpoints carry member ``i``'s weights under ``members.<i>.`` (:func:`member_state_dict`
    gives them back as that model's own). A group only trains; test each member as its own
    model.

    Args:
        members: the member models' configs.
        data_preprocessor: the group's (the members' own are not used in training).
        init_cfg: as :class:`~mmengine.model.BaseModel`.
    """
    #: the config keys in which members may differ (the retrained part)
    HEAD_PARTS: Sequence[str] = ()
    #: the attributes of the first member that every member shares (the same objects)
    TRUNK: Sequence[str] = ()

    def __init__(self, members: Sequence[dict], data_preprocessor: dict = None,
                 init_cfg: dict = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        name = type(self).__name__
        if isinstance(members, dict) or len(members) < 1:
            raise ValueError(f'{name}: members must be a non-empty list of model configs, '
                             f'got {members!r}')
        first = self.trunk_config(members[0])
        for i, cfg in enumerate(members):
            self.check_member(i, cfg)
            rest = self.trunk_config(cfg)
            differing = sorted(k for k in set(first) | set(rest) if first.get(k) != rest.get(k))
            if differing:
                raise ValueError(f'{name}: member {i} differs from member 0 outside '
                                 f'{"/".join(self.HEAD_PARTS)} in {differing}: the members '
                                 'share one trunk')
        self.members = nn.ModuleList(self.build_member(copy.deepcopy(cfg)) for cfg in members)
        for member in self.members[1:]:  # one trunk object, the same weights by construction
            for part in self.TRUNK:
                setattr(member, part, getattr(self.members[0], part))

    @classmethod
    def trunk_config(cls, cfg: dict) -> dict:
        """A member's config without the parts it may retrain differently."""
        return {k: v for k, v in cfg.items() if k not in cls.HEAD_PARTS}

    def build_member(self, cfg: dict) -> nn.Module:
        """The member model of ``cfg`` (built by the framework's registry)."""
        raise NotImplementedError

    @classmethod
    def check_member(cls, index: int, cfg: dict) -> None:
        """Raise ValueError naming member ``index`` if its config cannot be a member."""

    def trunk_forward(self, inputs: Tensor, data_samples: list) -> Any:
        """The frozen trunk's output for the batch (once per batch, no autograd)."""
        raise NotImplementedError

    def member_loss(self, member: nn.Module, trunk_out: Any, data_samples: list) -> dict:
        """``member``'s losses on ``trunk_out`` (it must not change ``trunk_out``)."""
        raise NotImplementedError

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        """A single model's weights (no ``members.`` keys) go to every member."""
        plain = [k for k in state_dict if k.startswith(prefix)
                 and not k[len(prefix):].startswith('members.')]
        if plain and not any(k.startswith(prefix + 'members.') for k in state_dict):
            for key in plain:
                value = state_dict.pop(key)
                for i in range(len(self.members)):
                    state_dict[f'{prefix}members.{i}.{key[len(prefix):]}'] = value
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def train(self, mode: bool = True) -> 'RetrainGroup':
        """Each member's own ``train`` (its frozen parts stay in eval mode)."""
        super().train(mode)
        for member in self.members:
            member.train(mode)
        return self

    def forward(self, inputs: Tensor, data_samples: list = None, mode: str = 'tensor') -> dict:
        """``mode='loss'``: :meth:`loss`. A group is not tested as a whole: every other mode
        raises ValueError."""
        if mode != 'loss':
            raise ValueError(f'{type(self).__name__} only trains (mode {mode!r} asked): test '
                             'each member as its own model (member_state_dict)')
        return self.loss(inputs, data_samples)

    def loss(self, inputs: Tensor, data_samples: list) -> dict:
        """Every member's losses, keyed ``m<i>.<loss>``, each from the same random state."""
        trunk_out = self.trunk_forward(inputs, data_samples)
        cuda = torch.cuda.is_available()
        cpu_state = torch.get_rng_state()
        cuda_state = torch.cuda.get_rng_state_all() if cuda else None
        losses = {}
        for i, member in enumerate(self.members):
            torch.set_rng_state(cpu_state)
            if cuda:
                torch.cuda.set_rng_state_all(cuda_state)
            member_losses = self.member_loss(member, trunk_out, data_samples)
            losses.update({f'm{i}.{k}': v for k, v in member_losses.items()})
        return losses


def member_state_dict(group_state: dict, index: int) -> dict:
    """The weights of member ``index`` in a :class:`RetrainGroup` state dict, as the state dict
    of that member alone (an ordinary checkpoint's ``state_dict``)."""
    prefix = f'members.{index}.'
    state = {k[len(prefix):]: v for k, v in group_state.items() if k.startswith(prefix)}
    if not state:
        raise KeyError(f'no weights of member {index} (keys {prefix}*) in the group state dict')
    return state
