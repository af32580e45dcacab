"""Several classification heads retrained together on one frozen backbone."""
from typing import List, Optional, Sequence, Tuple

import torch
from mmpretrain.registry import MODELS
from torch import Tensor, nn

from ..retrain_group import RetrainGroup


@MODELS.register_module()
class ClassifierRetrainGroup(RetrainGroup):
    """Several ``ImageClassifier`` s with one frozen backbone (e.g. ``SmallConvNet(frozen=True)``)
    whose necks and heads train together, one backbone pass per batch: K classifier-retraining
    runs of one trained model for the cost of one backbone forward plus K heads
    (:class:`~ltr_plugins.retrain_group.RetrainGroup`).

    Per batch: the backbone's features once, without autograd; then each member's neck (if
    any) and ``head.loss`` on them, from the same random-number state. A member whose neck and
    head draw no random numbers gets, step for step, the losses and gradients of its run alone.
    The losses are the members', keyed ``m<i>.<loss>``. Each member starts from the weights of
    its run alone, and the group draws the random stream of its first member's run alone
    (:class:`~ltr_plugins.retrain_group.RetrainGroup`). Prediction
    (:meth:`~ltr_plugins.retrain_group.RetrainGroup.predict`): the backbone's features once per
    batch, then each member's neck and ``head.predict``, as ``ImageClassifier.predict``.

    Args:
        members: the member classifiers' configs (``ImageClassifier`` with a frozen backbone,
            ``backbone.frozen=True``), equal apart from ``neck`` and ``head``.
        data_preprocessor: the group's (the members' own are not used in training); type
            ``ClsDataPreprocessor`` unless given, as ``ImageClassifier``.
        init_cfg: as :class:`~mmengine.model.BaseModel`.
    """
    HEAD_PARTS = ('neck', 'head')
    TRUNK = ('backbone', )

    def __init__(self, members: Sequence[dict], data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        # as ImageClassifier: mmpretrain configs give it at top level, without a type
        data_preprocessor = dict(data_preprocessor or {})
        data_preprocessor.setdefault('type', 'mmpretrain.ClsDataPreprocessor')
        super().__init__(members, data_preprocessor, init_cfg)
        if any(p.requires_grad for p in self.members[0].backbone.parameters()):
            raise ValueError('ClassifierRetrainGroup: the shared backbone has trainable weights; '
                             'its members retrain only necks and heads')

    def build_member(self, cfg: dict) -> nn.Module:
        return MODELS.build(cfg)

    @classmethod
    def check_member(cls, index: int, cfg: dict) -> None:
        if cfg.get('type') != 'ImageClassifier':
            raise ValueError(f'ClassifierRetrainGroup: member {index} is {cfg.get("type")!r}, '
                             'not an ImageClassifier')
        if not (cfg.get('backbone') or {}).get('frozen'):
            raise ValueError(f'ClassifierRetrainGroup: member {index} has no frozen backbone '
                             '(backbone.frozen=True)')

    @torch.no_grad()
    def trunk_forward(self, inputs: Tensor, data_samples: list) -> Tuple[Tensor, ...]:
        return self.members[0].backbone(inputs)

    #: the same backbone pass at test time (``ImageClassifier.extract_feat`` up to the neck)
    trunk_predict = trunk_forward

    @staticmethod
    def _head_input(member: nn.Module, trunk_out: Tuple[Tensor, ...]) -> Tuple[Tensor, ...]:
        """What ``member``'s head takes: its neck on the backbone's features, if it has one."""
        return member.neck(trunk_out) if member.with_neck else trunk_out

    def member_loss(self, member: nn.Module, trunk_out: Tuple[Tensor, ...],
                    data_samples: List) -> dict:
        return member.head.loss(self._head_input(member, trunk_out), data_samples)

    def member_predict(self, member: nn.Module, trunk_out: Tuple[Tensor, ...],
                       data_samples: list) -> list:
        return member.head.predict(self._head_input(member, trunk_out), data_samples)
