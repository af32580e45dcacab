"""Peer methods (configs/peers/): each config builds through the registries and its key value
equals an independent formula (class weights, repeat factors, logit adjustment, tau-norm, the
EQLv2 test activation, Seesaw's mmdet settings, uniform class sampling); one detection and one
classification peer train a few iterations on the tiny data."""
import importlib
import json
import math
import os.path as osp
from collections import Counter

import numpy as np
import pytest
import torch
from ltr_testing import REPO
from mmengine.config import Config
from mmengine.registry import DefaultScope

import ltr_plugins  # noqa: F401
from ltr_plugins.core import class_log_prior, inverse_frequency_weights, logit_adjust, tau_normalize

PEERS = REPO / 'configs/peers/demo'
DEMO_CLS_TRAIN = REPO / 'data/demo/classification/ImageNet_LT_train.txt'
DEMO_LVIS_TRAIN = REPO / 'data/demo/lvis_v1/annotations/lvis_v1_train.json'


def _cfg(name: str) -> Config:
    return Config.fromfile(str(PEERS / name))


def _build(cfg, registry_name: str, item):
    registry = getattr(importlib.import_module(f'{cfg.default_scope}.registry'), registry_name)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        return registry.build(item)


def _label_counts(ann_file) -> np.ndarray:
    """Images per class of an mmpretrain list ("path label" lines), counted here."""
    labels = [int(line.split()[-1]) for line in open(ann_file) if line.strip()]
    return np.bincount(labels)


# ----------------------------------------------------------------------------- formulas (core)
def test_core_formulas_against_hand_computation():
    counts = np.array([50, 10, 2])
    w = inverse_frequency_weights(counts)
    inv = 1 / counts
    assert torch.allclose(w, torch.tensor(3 * inv / inv.sum(), dtype=torch.float32))
    assert torch.allclose(inverse_frequency_weights(counts, power=0.0), torch.ones(3))
    prior = class_log_prior(counts)
    assert torch.allclose(prior, torch.log(torch.tensor(counts / 62.0, dtype=torch.float32)))
    z = torch.randn(4, 3)
    assert torch.allclose(logit_adjust(z, prior, 0.5), z - 0.5 * prior)
    weight = torch.randn(5, 7) * torch.arange(1, 6).float()[:, None]
    norms = weight.norm(dim=1)
    for tau in (0.0, 0.5, 1.0, 2.0):
        assert torch.allclose(tau_normalize(weight, tau).norm(dim=1), norms ** (1 - tau),
                              rtol=1e-5)
    with pytest.raises(ValueError, match="class\\(es\\) 'b'"):
        class_log_prior([3, 0], class_names=['a', 'b'])
    with pytest.raises(ValueError, match='zero weight row'):
        tau_normalize(torch.zeros(2, 3))


# ----------------------------------------------------------------------------- classification
def test_reweighted_ce_is_mmpretrain_ce_with_inverse_frequency_weights(demo_data):
    from mmpretrain.models.losses import CrossEntropyLoss
    cfg = _cfg('convnet_reweighted-ce_1xb64-30e_demo-cls.py')
    head = _build(cfg, 'MODELS', cfg.model).head
    loss = head.loss_module
    assert isinstance(loss, CrossEntropyLoss)
    n = _label_counts(DEMO_CLS_TRAIN)
    assert len(n) == head.num_classes == 20 and n.max() > 10 * n.min()  # long-tailed
    expected = (1 / n) / (1 / n).sum() * len(n)
    assert np.allclose(loss.class_weight, expected, rtol=1e-6)
    # the loss value: per-sample CE times the weight of its label, averaged over samples
    logits, labels = torch.randn(16, 20), torch.randint(0, 20, (16, ))
    ce = torch.nn.functional.cross_entropy(logits, labels, reduction='none')
    want = (ce * torch.tensor(expected, dtype=torch.float32)[labels]).mean()
    assert torch.allclose(loss(logits, labels), want, rtol=1e-5)
    with pytest.raises(ValueError, match='20 classes but num_classes=7'):
        _build(cfg, 'MODELS', dict(cfg.model.head.loss, num_classes=7))


def test_class_balanced_sampler_draws_classes_uniformly(demo_data):
    """Kang et al.'s class-balanced sampling through the peer config's sampler (mmdet's
    ClassAwareSampler on the mmpretrain data set): the labels drawn over a few epochs are
    uniform over classes (chi-square, fixed seed), the default sampler's are not."""
    from scipy.stats import chisquare
    cfg = _cfg('convnet_class-balanced-sampler_1xb64-30e_demo-cls.py')
    dataset = _build(cfg, 'DATASETS', dict(cfg.train_dataloader.dataset, pipeline=[]))
    labels = np.array([dataset.get_cat_ids(i)[0] for i in range(len(dataset))])
    drawn = {}
    for kind in ('peer', 'default'):
        sampler_cfg = (cfg.train_dataloader.sampler if kind == 'peer'
                       else dict(type='DefaultSampler', shuffle=True))
        sampler = _build(cfg, 'DATA_SAMPLERS', dict(sampler_cfg, dataset=dataset, seed=0))
        idx = []
        for epoch in range(5):
            sampler.set_epoch(epoch)
            idx += list(sampler)
        assert len(idx) == 5 * len(dataset)
        drawn[kind] = np.bincount(labels[idx], minlength=20)
    assert cfg.train_dataloader.sampler.type == 'mmdet.ClassAwareSampler'
    # runs of 4 images per class draw make the counts 4x over-dispersed: test the run counts
    assert chisquare(drawn['peer'] / 4).pvalue > 1e-3, drawn['peer']
    assert chisquare(drawn['default'] / 4).pvalue < 1e-10, drawn['default']


def _posthoc_head(name):
    cfg = _cfg(name)
    head = _build(cfg, 'MODELS', cfg.model).head
    torch.manual_seed(0)
    with torch.no_grad():
        head.fc.weight.copy_(torch.randn_like(head.fc.weight) * torch.linspace(0.2, 3, 20)[:, None])
        head.fc.bias.copy_(torch.randn_like(head.fc.bias))
    return head


def _pred_scores(head, feats):
    return torch.stack([s.pred_score for s in head.predict((feats, ))])


def test_posthoc_logit_adjustment_equals_z_minus_log_prior(demo_data):
    from mmpretrain.models.heads import LinearClsHead
    head = _posthoc_head('convnet_logit-adj-t1-posthoc_demo-cls.py')
    feats = torch.randn(8, head.in_channels)
    z = head.fc(feats)
    n = _label_counts(DEMO_CLS_TRAIN)
    want = z - 1.0 * torch.log(torch.tensor(n / n.sum(), dtype=torch.float32))
    assert torch.allclose(_pred_scores(head, feats), want.softmax(-1), atol=1e-6)
    assert torch.equal(head((feats, )), z)  # training / forward untouched
    # the CE checkpoint loads whole: the same parameters as the plain head, nothing else
    plain = LinearClsHead(num_classes=20, in_channels=head.in_channels)
    assert head.state_dict().keys() == plain.state_dict().keys()


def test_posthoc_tau_norm_uses_unit_norm_rows_without_bias(demo_data):
    head = _posthoc_head('convnet_tau-norm-t1-posthoc_demo-cls.py')
    feats = torch.randn(8, head.in_channels)
    w = head.fc.weight.detach()
    want = feats @ (w / w.norm(dim=1, keepdim=True)).T  # Kang et al.'s pnorm, no bias
    assert torch.allclose(_pred_scores(head, feats), want.softmax(-1), atol=1e-6)
    assert not torch.allclose(_pred_scores(head, feats), head.fc(feats).softmax(-1), atol=1e-3)


def test_train_a_few_iterations_reweighted_ce(tiny_data, monkeypatch):
    """The re-weighted CE peer's loss on the tiny classifier: 3 optimiser steps run and the
    loss stays finite."""
    monkeypatch.chdir(REPO)
    cfg = Config.fromfile(str(REPO / 'tests/configs/convnet_tiny.py'))
    peer = _cfg('convnet_reweighted-ce_1xb64-30e_demo-cls.py').model.head.loss
    cfg.model.head.loss = dict(peer, stats='data/tiny/classification/ImageNet_LT_train.txt',
                               num_classes=6)
    losses = _train_steps(cfg, steps=3)
    assert all(math.isfinite(v) for v in losses)


# ----------------------------------------------------------------------------- detection
def _lvis_image_freq(ann_file, image_ids) -> dict:
    """f_c = fraction of the given images that contain class c, from the json."""
    data = json.load(open(ann_file))
    ids = set(image_ids)
    per_class = {}
    for a in data['annotations']:
        if a['image_id'] in ids:
            per_class.setdefault(a['category_id'], set()).add(a['image_id'])
    cats = sorted(c['id'] for c in data['categories'])
    return {cats.index(c): len(v) / len(ids) for c, v in per_class.items()}


@pytest.mark.parametrize('name,thr', [
    ('mask-rcnn_r18_fpn_sample0.15_1xb8-6e_demo-lvis.py', 0.15),
    ('../../baselines/demo/mask-rcnn_r18_fpn_sample1e-3_1xb8-6e_demo-lvis.py', 1e-3)])
def test_rfs_repeat_factors(name, thr, demo_data, monkeypatch):
    """Each image appears ceil(max(1, max_c sqrt(t / f_c))) times (mmengine rounds up), f_c
    counted here from the json; with the reference t = 1e-3 nothing repeats on the demo data."""
    monkeypatch.chdir(REPO)
    cfg = _cfg(name)
    assert cfg.train_dataloader.dataset.oversample_thr == thr
    ds = _build(cfg, 'DATASETS', dict(cfg.train_dataloader.dataset,
                                      dataset=dict(cfg.train_dataloader.dataset.dataset,
                                                   pipeline=[])))
    inner = ds.dataset
    img_ids = [inner.get_data_info(i)['img_id'] for i in range(len(inner))]
    freq = _lvis_image_freq(DEMO_LVIS_TRAIN, img_ids)
    cats = [set(inner.get_cat_ids(i)) for i in range(len(inner))]
    want = [math.ceil(max([1.0] + [math.sqrt(thr / freq[c]) for c in cs])) for cs in cats]
    got = Counter(ds.repeat_indices)
    assert [got[i] for i in range(len(inner))] == want
    if thr == 1e-3:
        assert len(ds) == len(inner)
    else:
        assert len(ds) > 1.3 * len(inner) and max(want) == 5  # rarest class: sqrt(.15/.0067)


def _iterations(cfg, demo_data) -> tuple:
    """(training iterations, iteration of the learning-rate step) of a demo detection config:
    batches per epoch from the built training set (RFS repeats included) times its epochs."""
    ds = _build(cfg, 'DATASETS', dict(cfg.train_dataloader.dataset,
                                      dataset=dict(cfg.train_dataloader.dataset.dataset,
                                                   pipeline=[])))
    per_epoch = math.ceil(len(ds) / cfg.train_dataloader.batch_size)
    step, = [s for s in cfg.param_scheduler if s['type'] == 'MultiStepLR']
    assert step['by_epoch'] and len(step['milestones']) == 1
    return per_epoch * cfg.train_cfg.max_epochs, per_epoch * step['milestones'][0]


def test_rfs_length_control_trains_at_least_as_long(demo_data, monkeypatch):
    """The 9-epoch CE control of the RFS peer: RFS's iterations before the learning-rate step
    (within 1%) and at least as many after it (counted from the built data sets); otherwise
    the CE baseline."""
    monkeypatch.chdir(REPO)
    rfs, control = (_cfg(n) for n in ('mask-rcnn_r18_fpn_sample0.15_1xb8-6e_demo-lvis.py',
                                      'mask-rcnn_r18_fpn_sample1e-3_1xb8-9e_demo-lvis.py'))
    base = Config.fromfile(str(REPO / 'configs/baselines/demo/'
                               'mask-rcnn_r18_fpn_sample1e-3_1xb8-6e_demo-lvis.py'))
    rfs_iters, rfs_step = _iterations(rfs, demo_data)
    iters, step = _iterations(control, demo_data)
    assert (rfs_iters, rfs_step) == (636, 530) and (iters, step) == (675, 525)
    assert abs(step - rfs_step) <= 0.01 * rfs_step and iters - step >= rfs_iters - rfs_step
    assert _iterations(base, demo_data)[0] == 450
    same = ('model', 'train_dataloader', 'test_dataloader', 'optim_wrapper', 'randomness')
    assert all(control[k] == base[k] for k in same)


def test_class_aware_sampler_detection_visits_classes_uniformly(demo_data, monkeypatch):
    """mmdet's ClassAwareSampler on the LVIS-format data: every class is in at least ~1/K of
    the drawn images (it picks a class, then an image of it); the default sampler gives the
    rarest class far less."""
    monkeypatch.chdir(REPO)
    cfg = _cfg('mask-rcnn_r18_fpn_class-aware-sampler_1xb8-6e_demo-lvis.py')
    assert cfg.train_dataloader.dataset.oversample_thr == 0.0
    ds = _build(cfg, 'DATASETS', dict(cfg.train_dataloader.dataset,
                                      dataset=dict(cfg.train_dataloader.dataset.dataset,
                                                   pipeline=[])))
    cats = [set(ds.get_cat_ids(i)) for i in range(len(ds))]
    K = 12
    for kind, sampler_cfg in (('peer', cfg.train_dataloader.sampler),
                              ('default', dict(type='DefaultSampler', shuffle=True))):
        sampler = _build(cfg, 'DATA_SAMPLERS', dict(sampler_cfg, dataset=ds, seed=0))
        idx = []
        for epoch in range(5):
            sampler.set_epoch(epoch)
            idx += list(sampler)
        share = np.array([np.mean([c in cats[i] for i in idx]) for c in range(K)])
        sigma = math.sqrt((1 / K) * (1 - 1 / K) / len(idx))
        if kind == 'peer':
            assert type(sampler).__name__ == 'ClassAwareSampler'
            assert (share >= 1 / K - 4 * sigma).all(), share
        else:
            assert share.min() < 0.02, share


def _det_head(name):
    cfg = _cfg(name)
    return cfg, _build(cfg, 'MODELS', cfg.model).roi_head.bbox_head


def test_seesaw_peer_has_mmdets_seesaw_settings():
    """Loss and classifier settings equal mmdet's own seesaw_loss config (but num_classes)."""
    import mmdet
    cfg, head = _det_head('mask-rcnn_r18_fpn_seesaw-loss_sample1e-3_1xb8-6e_demo-lvis.py')
    ref = Config.fromfile(osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs', 'seesaw_loss',
                                   'mask-rcnn_r50_fpn_seesaw-loss_sample1e-3-ms-2x_lvis-v1.py'))
    ours, theirs = cfg.model.roi_head.bbox_head, ref.model.roi_head.bbox_head
    assert ours.cls_predictor_cfg == theirs.cls_predictor_cfg
    assert dict(ours.loss_cls, num_classes=0) == dict(theirs.loss_cls, num_classes=0)
    assert ours.loss_cls.num_classes == head.num_classes == 12
    assert type(head.loss_cls).__module__.startswith('mmdet.')  # mmdet's own SeesawLoss
    assert head.fc_cls.out_features == 12 + 2 and head.custom_cls_channels
    assert cfg.train_dataloader.dataset.oversample_thr == 1e-3


def test_eqlv2_peer_scores_with_sigmoid_and_objectness():
    """The EQLv2 peer: mmdet's EQLV2Loss, K + 1 logits, detections scored
    sigmoid(z_c) * (1 - sigmoid(z_bg)) as the reference's bbox head (not a softmax); RFS off."""
    from mmdet.models.losses import EQLV2Loss
    cfg, head = _det_head('mask-rcnn_r18_fpn_eqlv2_1xb8-6e_demo-lvis.py')
    assert isinstance(head.loss_cls, EQLV2Loss) and head.loss_cls.test_with_obj
    assert (head.loss_cls.mu, head.loss_cls.alpha, head.loss_cls.gamma) == (0.8, 4.0, 12)
    assert head.fc_cls.out_features == 13 and cfg.train_dataloader.dataset.oversample_thr == 0.0
    torch.manual_seed(0)
    z = torch.randn(5, 13)
    rois = torch.cat([torch.zeros(5, 1), torch.tensor([[10., 10., 50., 60.]]).repeat(5, 1)], 1)
    meta = dict(img_shape=(128, 128), scale_factor=(1., 1.))
    result = head.predict_by_feat((rois, ), (z.clone(), ), (torch.zeros(5, 48), ), [meta],
                                  rcnn_test_cfg=None)[0]
    fg = torch.sigmoid(z[:, :12]) * (1 - torch.sigmoid(z[:, 12:]))
    assert torch.allclose(result.scores[:, :12], fg, atol=1e-6)
    assert not torch.allclose(result.scores[:, :12], z.softmax(-1)[:, :12], atol=1e-3)
    with pytest.raises(ValueError, match='num_classes=1203 but the bbox head has'):
        _build(cfg, 'MODELS', dict(cfg.model.roi_head.bbox_head,
                                   loss_cls=dict(type='EQLV2BBoxLoss')))


def test_enhanced_iif_demo_recipe():
    """The demo twin of the reference's enhanced IIF recipe: RFS t=1e-3, cosine bbox classifier
    tau 8, cosine mask predictor tau 20, IIF base10_obj = log10(instances / n_c)."""
    cfg = Config.fromfile(str(
        REPO / 'configs/iif/demo/mask-rcnn_r18_fpn_iif-base10-obj_cosine-t8_cosine-mask-t20_'
               'sample1e-3_1xb8-6e_demo-lvis.py'))
    model = _build(cfg, 'MODELS', cfg.model)
    head = model.roi_head.bbox_head
    assert cfg.train_dataloader.dataset.oversample_thr == 1e-3
    assert head.fc_cls.scale == 8.0 and model.roi_head.mask_head.conv_logits.scale == 20.0
    data = json.load(open(DEMO_LVIS_TRAIN))
    cats = sorted(c['id'] for c in data['categories'])
    n = np.bincount([cats.index(a['category_id']) for a in data['annotations']], minlength=12)
    want = np.append(np.log10(n.sum() / n), 1.0)  # background column stays 1
    assert np.allclose(head.iif.weights.numpy(), want, rtol=1e-5)


def test_enhanced_iif_recipe_with_demo_rfs_is_as_long_as_the_rfs_peer(demo_data, monkeypatch):
    """The enhanced recipe with RFS at the demo threshold: the enhanced demo config but for
    ``oversample_thr`` 0.15, the RFS peer's training data, so its 636 iterations and step."""
    monkeypatch.chdir(REPO)
    demo = REPO / 'configs/iif/demo'
    enhanced, rfs_enhanced = (Config.fromfile(str(demo / (
        f'mask-rcnn_r18_fpn_iif-base10-obj_cosine-t8_cosine-mask-t20_sample{t}_1xb8-6e_'
        'demo-lvis.py'))) for t in ('1e-3', '0.15'))
    rfs = _cfg('mask-rcnn_r18_fpn_sample0.15_1xb8-6e_demo-lvis.py')
    assert rfs_enhanced.train_dataloader == rfs.train_dataloader
    assert rfs_enhanced.train_dataloader.dataset.oversample_thr == 0.15
    for key in ('model', 'test_dataloader', 'optim_wrapper', 'param_scheduler', 'train_cfg'):
        assert rfs_enhanced[key] == enhanced[key], key
    assert _iterations(rfs_enhanced, demo_data) == _iterations(rfs, demo_data) == (636, 530)


def test_train_a_few_iterations_eqlv2(tiny_data, monkeypatch):
    """The EQLv2 peer's loss on the tiny Mask R-CNN: 2 optimiser steps run, the loss is finite
    and EQLv2 has accumulated its per-class gradient statistics."""
    monkeypatch.chdir(REPO)
    cfg = Config.fromfile(str(REPO / 'tests/configs/mask_rcnn_tiny.py'))
    peer = _cfg('mask-rcnn_r18_fpn_eqlv2_1xb8-6e_demo-lvis.py')
    cfg.model.roi_head.bbox_head.loss_cls = dict(peer.model.roi_head.bbox_head.loss_cls,
                                                 num_classes=6)
    cfg.train_dataloader.dataset.oversample_thr = 0.0
    model, losses = _train_steps(cfg, steps=2, return_model=True)
    assert all(math.isfinite(v) for v in losses)
    assert model.roi_head.bbox_head.loss_cls.neg_grad.sum() > 0


def _train_steps(cfg, steps: int, return_model: bool = False):
    """``steps`` optimiser steps of ``cfg``'s model on its first training samples (in process,
    one sample per step, no workers); the total loss of each step."""
    from mmengine.dataset import pseudo_collate
    from mmengine.optim import OptimWrapper
    torch.manual_seed(0)
    model = _build(cfg, 'MODELS', cfg.model)
    model.init_weights()
    model.train()
    dataset = _build(cfg, 'DATASETS', cfg.train_dataloader.dataset)
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9))
    out = []
    for step in range(steps):
        logs = model.train_step(pseudo_collate([dataset[step]]), optim)
        out.append(float(logs['loss'].detach()))
    return (model, out) if return_model else out
