"""BoxHeadRetrainGroup: K box heads retrained on one frozen trunk pass train exactly as each
alone, draw the same RoI samples, predict exactly as each alone on one trunk pass, and load /
split checkpoints of single detectors."""
import copy

import pytest
import torch
from ltr_testing import REPO, build_model, check_members_start_as_alone

import ltr_plugins  # noqa: F401

TINY = REPO / 'tests/configs'
# the tiny configs' class statistics are read from the tiny preset's annotations
pytestmark = pytest.mark.usefixtures('tiny_data')


def _cfg(name: str):
    from mmengine.config import Config
    cfg = Config.fromfile(str(TINY / name))
    cfg.model.type = 'BoxHeadRetrainDetector'
    return cfg


def _setup(names):
    """A plain tiny Mask R-CNN's weights, the group of retrainers ``names`` loaded from them as
    ``load_from`` does, the same retrainers alone with the members' weights (heads with weights
    the plain model lacks keep their initialisation), and a packed batch."""
    from mmdet.testing import demo_mm_inputs
    from mmengine.runner.checkpoint import load_state_dict

    from ltr_plugins.retrain_group import member_state_dict
    torch.manual_seed(0)
    plain_cfg = _cfg('mask_rcnn_tiny.py')
    plain_cfg.model.type = 'MaskRCNN'
    plain = build_model(plain_cfg)
    plain.init_weights()
    weights = plain.state_dict()
    cfgs = [_cfg(n) for n in names]
    group_cfg = copy.deepcopy(cfgs[0])
    group_cfg.model = dict(type='BoxHeadRetrainGroup', members=[c.model for c in cfgs],
                           data_preprocessor=cfgs[0].model.data_preprocessor)
    group = build_model(group_cfg)
    load_state_dict(group, weights)  # mmengine's loader, non-strict, as load_from
    alone = []
    for i, c in enumerate(cfgs):
        model = build_model(c)
        model.load_state_dict(member_state_dict(group.state_dict(), i))
        alone.append(model)
    packed = demo_mm_inputs(2, image_shapes=[(3, 64, 64)] * 2, num_items=[3, 2], num_classes=6,
                            with_mask=True)
    data = plain.data_preprocessor(packed, True)
    return weights, group, alone, data['inputs'], data['data_samples']


def _step(model, optimizer, inputs, samples, seed):
    torch.manual_seed(seed)
    optimizer.zero_grad()
    losses = model.loss(inputs, copy.deepcopy(samples))
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    optimizer.step()
    return losses


def _sgd(model):
    return torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.05,
                           momentum=0.9, weight_decay=0.01)


def test_each_member_trains_exactly_as_alone():
    """Three SGD steps (momentum, weight decay) of a group of a linear and a cosine + IIF + CAMC
    box head: every member's losses and final weights equal, to the bit, those of the same
    retrainer trained alone from the same random state; the shared trunk is untouched."""
    from ltr_plugins.retrain_group import member_state_dict
    weights, group, alone, inputs, samples = _setup(['mask_rcnn_tiny.py',
                                                     'mask_rcnn_camc_iif_tiny.py'])
    group.train()
    for m in alone:
        m.train()
    group_opt, alone_opts = _sgd(group), [_sgd(m) for m in alone]
    for seed in range(3):
        got = _step(group, group_opt, inputs, samples, seed)
        for i, (model, opt) in enumerate(zip(alone, alone_opts)):
            want = _step(model, opt, inputs, samples, seed)
            assert {k for k in got if k.startswith(f'm{i}.')} == {f'm{i}.{k}' for k in want}
            for key, value in want.items():
                torch.testing.assert_close(got[f'm{i}.{key}'], value, rtol=0, atol=0)
    state = group.state_dict()
    for i, model in enumerate(alone):
        mine = member_state_dict(state, i)
        assert set(mine) == set(model.state_dict())
        for key, value in model.state_dict().items():
            assert torch.equal(mine[key], value), (i, key)
            if key in weights and not key.startswith('roi_head.bbox_head.'):
                assert torch.equal(value, weights[key]), (i, key)  # frozen: unchanged
        assert any(not torch.equal(mine[k], weights[k]) for k in mine
                   if k.startswith('roi_head.bbox_head.'))


def test_each_member_starts_as_alone():
    """Built and initialised by the runner's steps, each member of a group of a linear, a
    CAMC + IIF + cosine (a classifier no plain checkpoint has) and another linear box head
    has the weights of its detector alone; the random state goes on as the first's alone."""
    cfgs = [_cfg(n) for n in ('mask_rcnn_tiny.py', 'mask_rcnn_camc_iif_tiny.py',
                              'mask_rcnn_tiny.py')]
    group_cfg = copy.deepcopy(cfgs[0])
    group_cfg.model = dict(type='BoxHeadRetrainGroup', members=[c.model for c in cfgs],
                           data_preprocessor=cfgs[0].model.data_preprocessor)
    check_members_start_as_alone(group_cfg, cfgs, ('roi_head.', ))


def test_the_random_state_goes_on_as_the_first_members():
    """A member whose loss draws random numbers of its own does not move the group's random
    state: after a step it is the first member's alone (the next step's samples too)."""
    _, group, alone, inputs, samples = _setup(['mask_rcnn_tiny.py', 'mask_rcnn_tiny.py'])
    box_loss = group.members[1].box_loss
    group.members[1].box_loss = lambda *args: (torch.rand(5), box_loss(*args))[1]
    group.train()
    alone[0].train()
    torch.manual_seed(0)
    group.loss(inputs, copy.deepcopy(samples))
    after_group = torch.get_rng_state()
    torch.manual_seed(0)
    alone[0].loss(inputs, copy.deepcopy(samples))
    assert torch.equal(after_group, torch.get_rng_state())


def test_members_draw_the_same_roi_samples():
    """Two identical members: identical losses (same proposals, same sampled RoIs), while
    another random state gives other samples (the control: sampling is random)."""
    _, group, _, inputs, samples = _setup(['mask_rcnn_tiny.py', 'mask_rcnn_tiny.py'])
    group.train()
    torch.manual_seed(0)
    losses = group.loss(inputs, copy.deepcopy(samples))
    for key in ('loss_cls', 'loss_bbox', 'acc'):
        torch.testing.assert_close(losses[f'm0.{key}'], losses[f'm1.{key}'], rtol=0, atol=0)
    torch.manual_seed(1)
    other = group.members[0].loss(inputs, copy.deepcopy(samples))
    assert not torch.equal(other['loss_cls'], losses['m0.loss_cls'])


def test_one_trunk_object_and_checkpoint_round_trip():
    from mmengine.runner.checkpoint import load_state_dict

    from ltr_plugins.retrain_group import member_state_dict
    weights, group, _, _, _ = _setup(['mask_rcnn_tiny.py', 'mask_rcnn_camc_iif_tiny.py'])
    for name in ('backbone', 'neck', 'rpn_head'):
        assert getattr(group.members[1], name) is getattr(group.members[0], name)
    assert group.members[1].roi_head is not group.members[0].roi_head
    for i in range(2):  # load_from of a single detector reached every member
        mine = member_state_dict(group.state_dict(), i)
        for key, value in weights.items():
            assert i == 1 and key.startswith('roi_head.bbox_head.fc_cls') \
                or torch.equal(mine[key], value), (i, key)  # member 1 has another classifier
    # the group's own checkpoint loads back as is (members.<i>. keys)
    with torch.no_grad():
        group.members[1].roi_head.bbox_head.fc_reg.weight.add_(1.0)
    _, again, _, _, _ = _setup(['mask_rcnn_tiny.py', 'mask_rcnn_camc_iif_tiny.py'])
    load_state_dict(again, group.state_dict(), strict=True)
    for key, value in group.state_dict().items():
        assert torch.equal(again.state_dict()[key], value), key
    with pytest.raises(KeyError, match='member 2'):
        member_state_dict(group.state_dict(), 2)


def test_only_member_box_heads_train_and_frozen_parts_stay_in_eval():
    _, group, _, _, _ = _setup(['mask_rcnn_tiny.py', 'mask_rcnn_camc_iif_tiny.py'])
    group.train()
    trainable = {n for n, p in group.named_parameters() if p.requires_grad}
    assert trainable and all('.roi_head.bbox_head.' in n for n in trainable)
    assert {n.split('.')[1] for n in trainable} == {'0', '1'}
    for member in group.members:
        assert not any(m.training for m in member.backbone.modules())
        assert member.roi_head.bbox_head.training
    group.eval()
    assert not any(m.training for m in group.modules())


@pytest.mark.parametrize('change, match', [
    ({'model.rpn_head.feat_channels': 16}, r"member 1 differs .* \['rpn_head'\]"),
    ({'model.type': 'MaskRCNN'}, "member 1 is 'MaskRCNN'")])
def test_members_must_share_the_trunk(change, match):
    a, b = _cfg('mask_rcnn_tiny.py'), _cfg('mask_rcnn_tiny.py')
    b.merge_from_dict(change)
    a.model = dict(type='BoxHeadRetrainGroup', members=[a.model, b.model])
    with pytest.raises(ValueError, match=match):
        build_model(a)


def test_each_member_predicts_exactly_as_alone():
    """One trunk pass for a linear and a cosine + IIF + CAMC member: each member's detections
    (boxes, scores, labels, masks) equal, to the bit, those of the same detector alone; the two
    members' differ (the comparison can fail)."""
    _, group, alone, inputs, samples = _setup(['mask_rcnn_tiny.py',
                                               'mask_rcnn_camc_iif_tiny.py'])
    group.eval()
    with torch.no_grad():
        got = group(inputs, copy.deepcopy(samples), mode='predict')
    assert len(got) == 2
    for i, model in enumerate(alone):
        model.eval()
        with torch.no_grad():
            want = model.predict(inputs, copy.deepcopy(samples))
        for mine, theirs in zip(got[i], want):
            assert len(theirs.pred_instances) > 0
            for key in ('bboxes', 'scores', 'labels', 'masks'):
                assert torch.equal(mine.pred_instances[key], theirs.pred_instances[key]), (i, key)
    assert not torch.equal(got[0][0].pred_instances.scores, got[1][0].pred_instances.scores)
    assert 'pred_instances' not in samples[0]  # the caller's samples are not filled


def test_the_group_has_no_tensor_mode():
    _, group, _, inputs, samples = _setup(['mask_rcnn_tiny.py'])
    with pytest.raises(ValueError, match="mode 'tensor' asked"):
        group(inputs, samples, mode='tensor')


def test_the_group_test_loop_checks_its_model_and_evaluators():
    from types import SimpleNamespace

    from torch import nn

    from ltr_plugins.retrain_group import RetrainGroupTestLoop
    _, group, _, _, _ = _setup(['mask_rcnn_tiny.py', 'mask_rcnn_camc_iif_tiny.py'])
    runner = SimpleNamespace(model=group, build_evaluator=lambda cfg: SimpleNamespace(),
                             visualizer=SimpleNamespace())
    loader = SimpleNamespace(dataset=SimpleNamespace(metainfo={'classes': ('a', 'b')}))
    with pytest.raises(ValueError, match='1 member_evaluators for a group of 2 members'):
        RetrainGroupTestLoop(runner, loader, {}, member_evaluators=[{}])
    loop = RetrainGroupTestLoop(runner, loader, {})  # one evaluator per member, each its own
    assert len(loop.evaluators) == 2 and loop.evaluators[0] is not loop.evaluators[1]
    assert all(e.dataset_meta == {'classes': ('a', 'b')} for e in loop.evaluators)
    with pytest.raises(TypeError, match='tests a RetrainGroup, not a Linear'):
        RetrainGroupTestLoop(SimpleNamespace(model=nn.Linear(1, 1)), loader, {})
