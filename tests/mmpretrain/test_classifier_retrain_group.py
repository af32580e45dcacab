"""ClassifierRetrainGroup: necks and heads retrained together on one frozen backbone pass train
exactly as each alone and predict exactly as each alone on one backbone pass; a group needs
one frozen backbone."""
import copy

import pytest
import torch
from ltr_testing import REPO, build_model, check_members_start_as_alone

import ltr_plugins  # noqa: F401
from ltr_plugins.retrain_group import member_state_dict

TINY = REPO / 'tests/configs'


def _cfg(name: str, frozen: bool = True):
    from mmengine.config import Config
    cfg = Config.fromfile(str(TINY / name))
    cfg.model.backbone.frozen = frozen
    cfg.model.setdefault('data_preprocessor', cfg.data_preprocessor)
    return cfg


def _group(names, frozen: bool = True):
    cfgs = [_cfg(n, frozen) for n in names]
    group_cfg = copy.deepcopy(cfgs[0])
    group_cfg.model = dict(type='ClassifierRetrainGroup', members=[c.model for c in cfgs],
                           data_preprocessor=cfgs[0].data_preprocessor)
    return cfgs, build_model(group_cfg)


def test_each_member_trains_exactly_as_alone():
    """Three SGD steps of a group of a linear head (with its pooling neck) and a CAMC cosine
    head (no neck): each member's losses and weights equal those of the same classifier
    trained alone from the same weights and random state, to the bit; the backbone and its
    BN statistics are unchanged."""
    from mmengine.runner.checkpoint import load_state_dict
    from mmpretrain.structures import DataSample
    torch.manual_seed(0)
    cfgs, group = _group(['convnet_tiny.py', 'convnet_camc_tiny.py'])
    plain = build_model(_cfg('convnet_tiny.py', frozen=False))
    plain.init_weights()
    load_state_dict(group, plain.state_dict())  # as load_from
    alone = []
    for i, c in enumerate(cfgs):
        model = build_model(c)
        model.load_state_dict(member_state_dict(group.state_dict(), i))
        alone.append(model)
    batch = {'inputs': [torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8)
                        for _ in range(8)],
             'data_samples': [DataSample().set_gt_label(i % 6) for i in range(8)]}
    data = group.data_preprocessor(batch, True)
    models = [group] + alone
    optims = [torch.optim.SGD([p for p in m.parameters() if p.requires_grad], lr=0.1,
                              momentum=0.9, weight_decay=0.01) for m in models]
    for m in models:
        m.train()
    for seed in range(3):
        losses = []
        for model, opt in zip(models, optims):
            torch.manual_seed(seed)
            opt.zero_grad()
            out = model.loss(data['inputs'], copy.deepcopy(data['data_samples']))
            sum(v for k, v in out.items() if 'loss' in k).backward()
            opt.step()
            losses.append(out)
        for i, want in enumerate(losses[1:]):
            mine = {k for k in losses[0] if k.startswith(f'm{i}.')}
            assert want and {f'm{i}.{k}' for k in want} == mine
            for key, value in want.items():
                torch.testing.assert_close(losses[0][f'm{i}.{key}'], value, rtol=0, atol=0)
    for i, model in enumerate(alone):
        mine = member_state_dict(group.state_dict(), i)
        for key, value in model.state_dict().items():
            assert torch.equal(mine[key], value), (i, key)
            if key.startswith('backbone.'):
                assert torch.equal(value, plain.state_dict()[key]), key
    assert group.members[1].backbone is group.members[0].backbone
    assert {n.split('.')[1] for n, p in group.named_parameters() if p.requires_grad} == {'0', '1'}
    assert not any(p.requires_grad for p in group.members[0].backbone.parameters())


def test_each_member_starts_as_alone():
    """Built and initialised by the runner's steps, each member of a group of a linear head,
    a CAMC cosine head and another linear head has the weights of its classifier alone; the
    random state goes on as the first's alone."""
    cfgs = [_cfg(n) for n in ('convnet_tiny.py', 'convnet_camc_tiny.py', 'convnet_tiny.py')]
    group_cfg = copy.deepcopy(cfgs[0])
    group_cfg.model = dict(type='ClassifierRetrainGroup', members=[c.model for c in cfgs],
                           data_preprocessor=cfgs[0].data_preprocessor)
    check_members_start_as_alone(group_cfg, cfgs, ('neck.', 'head.'))


def test_a_group_needs_one_frozen_backbone():
    with pytest.raises(ValueError, match='member 0 has no frozen backbone'):
        _group(['convnet_tiny.py'], frozen=False)
    a, b = _cfg('convnet_tiny.py'), _cfg('convnet_tiny.py')
    b.model.backbone.widths = (8, 16, 32, 32)
    a.model = dict(type='ClassifierRetrainGroup', members=[a.model, b.model])
    with pytest.raises(ValueError, match=r"member 1 differs .*neck/head in \['backbone'\]"):
        build_model(a)
    b = _cfg('convnet_tiny.py')
    b.model.type = 'VLLTRPretrainer'
    a.model.members = [_cfg('convnet_tiny.py').model, b.model]
    with pytest.raises(ValueError, match="member 1 is 'VLLTRPretrainer'"):
        build_model(a)


def test_each_member_predicts_exactly_as_alone():
    """One backbone pass for a linear head (with its neck) and a CAMC cosine head: each
    member's scores equal, to the bit, those of the same classifier alone; the two differ."""
    from mmengine.runner.checkpoint import load_state_dict
    from mmpretrain.structures import DataSample
    torch.manual_seed(0)
    cfgs, group = _group(['convnet_tiny.py', 'convnet_camc_tiny.py'])
    plain = build_model(_cfg('convnet_tiny.py', frozen=False))
    plain.init_weights()
    load_state_dict(group, plain.state_dict())
    batch = {'inputs': [torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8)
                        for _ in range(4)],
             'data_samples': [DataSample().set_gt_label(i) for i in range(4)]}
    data = group.data_preprocessor(batch, False)
    group.eval()
    with torch.no_grad():
        got = group(data['inputs'], copy.deepcopy(data['data_samples']), mode='predict')
    assert len(got) == 2
    for i, c in enumerate(cfgs):
        model = build_model(c)
        model.load_state_dict(member_state_dict(group.state_dict(), i))
        model.eval()
        with torch.no_grad():
            want = model.predict(data['inputs'], copy.deepcopy(data['data_samples']))
        for mine, theirs in zip(got[i], want):
            assert torch.equal(mine.pred_score, theirs.pred_score), i
    assert not torch.equal(got[0][0].pred_score, got[1][0].pred_score)
