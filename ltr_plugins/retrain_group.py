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

Every member is built and initialised from the random state its run alone would have, so it
starts from the weights of its run alone (those its checkpoint does not give, e.g. a new
classifier, included); and the group's random stream is its first member's alone. So the first
member's run is its run alone, and what another member gets does not depend on which other
members the group has (tested to the bit, through the runner).

Testing the K members one by one spends K trunk passes over the test set too:
:class:`RetrainGroupTestLoop` tests them in one pass, each member's predictions going to its
own evaluator, with the predictions each would make alone (tested to the bit).
"""
import copy
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.model import BaseModel, BaseModule, is_model_wrapper
from mmengine.registry import LOOPS
from mmengine.runner import TestLoop, autocast
from mmengine.runner.loops import BaseLoop
from torch import Tensor, nn

#: torch's random-number state: the CPU generator's, and every CUDA device's when present
RandomState = Tuple[Tensor, Optional[List[Tensor]]]


def random_state() -> RandomState:
    """torch's random-number state now (:data:`RandomState`)."""
    return (torch.get_rng_state(),
            torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None)


def set_random_state(state: RandomState) -> None:
    """Set torch's random-number state to ``state`` (from :func:`random_state`)."""
    cpu, cuda = state
    torch.set_rng_state(cpu)
    if cuda is not None:
        torch.cuda.set_rng_state_all(cuda)


class RetrainGroup(BaseModel):
    """Members (full models of one config family, equal outside :attr:`HEAD_PARTS`) sharing one
    trunk object (:attr:`TRUNK`, frozen). Subclasses define the trunk's pass and a member's loss
    on it.

    Loading a single model's checkpoint (``load_from``) loads it into every member; the group's
    own checkpoints carry member ``i``'s weights under ``members.<i>.`` (:func:`member_state_dict`
    gives them back as that model's own). In ``predict`` mode it gives every member's
    predictions, one trunk pass per batch (:meth:`predict`; :class:`RetrainGroupTestLoop` tests
    the members so).

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
        # each member built from the same random state, as its run alone builds it; the state
        # each build leaves is where that member's initialisation starts (init_weights)
        start, built, self._built_states = random_state(), [], []
        for cfg in members:
            set_random_state(start)
            built.append(self.build_member(copy.deepcopy(cfg)))
            self._built_states.append(random_state())
        set_random_state(self._built_states[0])  # the group goes on as its first member alone
        self.members = nn.ModuleList(built)
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

    def trunk_predict(self, inputs: Tensor, data_samples: list) -> Any:
        """The frozen trunk's output for a test batch, as the members' own ``predict`` makes
        it (once per batch)."""
        raise NotImplementedError

    def member_predict(self, member: nn.Module, trunk_out: Any, data_samples: list) -> list:
        """``member``'s predictions on ``trunk_out``: what its own ``predict`` returns for the
        batch (it must not change ``trunk_out``; it may fill ``data_samples``, its own copy)."""
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

    def init_weights(self) -> None:
        """Initialise every member as the runner initialises its run alone: member ``i``'s own
        ``init_weights`` (the shared trunk's included: it draws random numbers) from the random
        state its build left; the first member last, from the state now, so that the trunk
        holds its initialisation and the random state goes on as after its run's alone. (A
        model's ``init_weights`` does not reach the members: ``nn.ModuleList`` has none.)"""
        first = random_state()
        for i in reversed(range(len(self.members))):
            set_random_state(first if i == 0 else self._built_states[i])
            for module in self.members[i].modules():  # the shared trunk: again, as alone
                if isinstance(module, BaseModule):
                    module.is_init = False
            self.members[i].init_weights()

    def train(self, mode: bool = True) -> 'RetrainGroup':
        """Each member's own ``train`` (its frozen parts stay in eval mode)."""
        super().train(mode)
        for member in self.members:
            member.train(mode)
        return self

    def forward(self, inputs: Tensor, data_samples: list = None,
                mode: str = 'tensor') -> Union[dict, List[list]]:
        """``mode='loss'``: :meth:`loss`; ``mode='predict'``: :meth:`predict`. A group has no
        single output: ``'tensor'`` raises ValueError."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        raise ValueError(f'{type(self).__name__}: mode {mode!r} asked; a group computes its '
                         "members' losses ('loss') or predictions ('predict')")

    def loss(self, inputs: Tensor, data_samples: list) -> dict:
        """Every member's losses, keyed ``m<i>.<loss>``, each from the same random state; the
        state goes on as the first member's loss leaves it (a member drawing random numbers of
        its own does not move the others' next samples)."""
        trunk_out = self.trunk_forward(inputs, data_samples)
        start, after_first = random_state(), None
        losses = {}
        for i, member in enumerate(self.members):
            set_random_state(start)
            member_losses = self.member_loss(member, trunk_out, data_samples)
            losses.update({f'm{i}.{k}': v for k, v in member_losses.items()})
            if i == 0:
                after_first = random_state()
        set_random_state(after_first)
        return losses

    def predict(self, inputs: Tensor, data_samples: list) -> List[list]:
        """Every member's predictions for the batch, one list per member, each made on its own
        copy of ``data_samples`` from one trunk pass: what each member's ``predict`` returns
        alone (trunk and member heads are deterministic at test time)."""
        trunk_out = self.trunk_predict(inputs, data_samples)
        return [self.member_predict(member, trunk_out, copy.deepcopy(data_samples))
                for member in self.members]


@LOOPS.register_module()
class RetrainGroupTestLoop(TestLoop):
    """Test every member of a :class:`RetrainGroup` in one pass over the test set: per batch
    the trunk runs once and each member's head predicts (:meth:`RetrainGroup.predict`); member
    ``i``'s predictions go to evaluator ``i``, so its metrics are those of a test of member
    ``i`` alone with that evaluator. Set it as the group config's ``test_cfg``.

    :meth:`run` returns the members' metrics, a list in member order; the hooks see them as one
    dict, keyed ``m<i>/<metric>``, and ``after_test_iter`` gets the members' predictions as a
    list of lists.

    Args:
        runner: as :class:`~mmengine.runner.TestLoop`.
        dataloader: as :class:`~mmengine.runner.TestLoop` (the runner's ``test_dataloader``).
        evaluator: the evaluator config of every member (the runner's ``test_evaluator``).
        member_evaluators: one evaluator config per member, used instead of ``evaluator`` (e.g.
            each writing its per-class files to its own run's folder).
        fp16: as :class:`~mmengine.runner.TestLoop`.
    """

    def __init__(self, runner, dataloader: Union[Any, Dict], evaluator: Union[Dict, List],
                 member_evaluators: Optional[Sequence[Union[Dict, List]]] = None,
                 fp16: bool = False) -> None:
        BaseLoop.__init__(self, runner, dataloader)  # TestLoop's would build one evaluator
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if not isinstance(model, RetrainGroup):
            raise TypeError(f'RetrainGroupTestLoop tests a RetrainGroup, not a '
                            f'{type(model).__name__}')
        count = len(model.members)
        configs = [evaluator] * count if member_evaluators is None else list(member_evaluators)
        if len(configs) != count:
            raise ValueError(f'RetrainGroupTestLoop: {len(configs)} member_evaluators for a '
                             f'group of {count} members')
        # each built from its own copy: an evaluator keeps state (results, dataset_meta)
        self.evaluators = [runner.build_evaluator(copy.deepcopy(cfg)) for cfg in configs]
        meta = getattr(self.dataloader.dataset, 'metainfo', None)
        for member_evaluator in self.evaluators:
            member_evaluator.dataset_meta = meta
        self.runner.visualizer.dataset_meta = meta
        self.fp16 = fp16
        self.test_loss: Dict = {}

    def run(self) -> List[dict]:
        """Test the members; their metrics, in member order."""
        self.runner.call_hook('before_test')
        self.runner.call_hook('before_test_epoch')
        self.runner.model.eval()
        for idx, data_batch in enumerate(self.dataloader):
            self.run_iter(idx, data_batch)
        size = len(self.dataloader.dataset)
        metrics = [member_evaluator.evaluate(size) for member_evaluator in self.evaluators]
        flat = {f'm{i}/{k}': v for i, member in enumerate(metrics) for k, v in member.items()}
        self.runner.call_hook('after_test_epoch', metrics=flat)
        self.runner.call_hook('after_test')
        return metrics

    @torch.no_grad()
    def run_iter(self, idx: int, data_batch: Sequence[dict]) -> None:
        """One batch: every member's predictions, each to its evaluator."""
        self.runner.call_hook('before_test_iter', batch_idx=idx, data_batch=data_batch)
        with autocast(enabled=self.fp16):
            outputs = self.runner.model.test_step(data_batch)
        for member_evaluator, member_outputs in zip(self.evaluators, outputs):
            member_evaluator.process(data_samples=member_outputs, data_batch=data_batch)
        self.runner.call_hook('after_test_iter', batch_idx=idx, data_batch=data_batch,
                              outputs=outputs)


def member_state_dict(group_state: dict, index: int) -> dict:
    """The weights of member ``index`` in a :class:`RetrainGroup` state dict, as the state dict
    of that member alone (an ordinary checkpoint's ``state_dict``)."""
    prefix = f'members.{index}.'
    state = {k[len(prefix):]: v for k, v in group_state.items() if k.startswith(prefix)}
    if not state:
        raise KeyError(f'no weights of member {index} (keys {prefix}*) in the group state dict')
    return state
