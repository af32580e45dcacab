"""Every shipped config parses and builds; the real-data configs run their data pipelines and
evaluators on the embedded data (same layout, only the root differs) and join their data roots
correctly; the layout (method folders, names, metafiles, model index) is consistent."""
import glob
import json
import os.path as osp
import re
from pathlib import Path

import pytest
from ltr_testing import REPO, build_model
from mmengine.config import Config
from mmengine.registry import DefaultScope

import ltr_plugins  # noqa: F401

CONFIGS = sorted(str(Path(p).relative_to(REPO)) for p in glob.glob(str(REPO / 'configs/**/*.py'),
                                                                   recursive=True)
                 if '/_base_/' not in p)
#: data tag at the end of a config name -> the class count of its real dataset
REAL_DATA = {'lvis-v1': 1203, 'imagenet-lt': 1000, 'places-lt': 365}
#: the method folders; embedded-data (demo) twins live in each one's demo/ subfolder
METHOD_DIRS = ('baselines', 'iif', 'cosine', 'camc', 'oltr', 'vlltr', 'peers')
#: configs kept under their old names (thin _base_ aliases of a new one)
ALIASES = {'configs/lvis/mask_rcnn_iif.py': 'configs/iif/mask-rcnn_r50_fpn_iif-raw_1x_lvis-v1.py'}
REAL_CONFIGS = [p for p in CONFIGS if '/demo/' not in p]


def _dataset(path: str):
    """The real dataset a config is for ('lvis-v1', 'imagenet-lt', 'places-lt'), else None."""
    path = ALIASES.get(path, path)
    match = re.search(r'_([a-z0-9-]+)\.py$', path)
    return match.group(1) if match and match.group(1) in REAL_DATA else None


def _vlltr_inputs(cfg, tmp_path, num_classes: int):
    """VL-LTR configs read files made by earlier stages (anchor embeddings) or supplied by the
    user (CLIP checkpoint, class texts): point them at small stand-ins of the right size."""
    import torch

    from ltr_plugins.core.vlltr import CLASS_TEXTS_FORMAT, AnchorEmbeddings, save_anchor_embeddings
    names = [f'c{i}' for i in range(num_classes)]
    anchors = str(tmp_path / 'anchors.safetensors')
    save_anchor_embeddings(anchors, AnchorEmbeddings(torch.randn(num_classes, 2, 8), names, 1.))
    head = cfg.model.get('head', {})
    if head.get('type') == 'LGRClsHead':
        head.anchors = anchors
    elif head.get('type') == 'VLLTRPretrainHead':
        texts = tmp_path / 'texts.json'
        texts.write_text(json.dumps(dict(format=CLASS_TEXTS_FORMAT, templates=['a {}.'],
                                         classes={n: {} for n in names})))
        head.update(class_texts=str(texts), classes=names)
        if head.text_encoder.type != 'minilm':  # open_clip: a local checkpoint is needed
            head.text_encoder = dict(type='random', dim=8)
    if cfg.default_scope == 'mmdet':
        predictor = cfg.model.roi_head.bbox_head.get('cls_predictor_cfg', {})
        if predictor.get('type') == 'LGRPredictor':
            predictor.anchors = anchors


@pytest.mark.parametrize('path', CONFIGS)
def test_config_builds(path, demo_data, monkeypatch, tmp_path):
    monkeypatch.chdir(REPO)
    cfg = Config.fromfile(path)
    assert cfg.default_scope in ('mmdet', 'mmpretrain')
    assert 'ltr_plugins' in cfg.custom_imports['imports']
    if 'vlltr' in path:
        num_classes = (cfg.model.roi_head.bbox_head.num_classes if cfg.default_scope == 'mmdet'
                       else cfg.model.head.num_classes)
        _vlltr_inputs(cfg, tmp_path, num_classes)
    model = build_model(cfg)
    head = model.roi_head.bbox_head if cfg.default_scope == 'mmdet' else model.head
    if 'vlltr' in path and cfg.default_scope == 'mmdet':
        assert type(head.fc_cls).__name__ == 'LGRPredictor'
        head = head.fc_cls  # holds the IIF weights
    num_classes = head.num_classes
    dataset = _dataset(path)
    if dataset is not None:
        assert num_classes == REAL_DATA[dataset]
    if dataset == 'lvis-v1':
        rcnn = cfg.model.test_cfg.rcnn
        assert rcnn.score_thr == 1e-4 and rcnn.max_per_img == 300
    elif path.endswith('_demo-lvis.py'):  # 12 classes: 100 per image (the demo baseline's note)
        rcnn = cfg.model.test_cfg.rcnn
        assert rcnn.score_thr == 1e-4 and rcnn.max_per_img == 100
    if 'iif' in osp.basename(path):
        assert head.iif.weights.numel() == num_classes + (cfg.default_scope == 'mmdet')


def _build(cfg, registry_name, item):
    import importlib
    registry = getattr(importlib.import_module(f'{cfg.default_scope}.registry'), registry_name)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        return registry.build(item)


def test_lvis_config_on_embedded_data(tiny_data, monkeypatch):
    monkeypatch.setenv('LVIS_ROOT', str(tiny_data / 'lvis_v1') + '/')
    cfg = Config.fromfile(
        str(REPO / 'configs/baselines/mask-rcnn_r50_fpn_sample1e-3_1x_lvis-v1.py'))
    train = _build(cfg, 'DATASETS', cfg.train_dataloader.dataset)
    val = _build(cfg, 'DATASETS', cfg.val_dataloader.dataset)
    assert len(val) == 20 and len(train) >= 200  # RFS repeats rare images
    sample = train[0]
    assert sample['data_samples'].gt_instances.masks.masks.shape[0] >= 1
    assert val.metainfo['classes'][0] == 'black_star'  # names from the json, not mmdet's 1203
    metric = _build(cfg, 'METRICS', cfg.val_evaluator)
    from mmdet.evaluation import LVISMetric
    assert isinstance(metric, LVISMetric)  # LongTailLVISMetric: LVISMetric + per-class csv


def test_imagenet_lt_config_on_embedded_data(tiny_data, monkeypatch):
    monkeypatch.setenv('IMAGENET_LT_ROOT', str(tiny_data / 'classification') + '/')
    cfg = Config.fromfile(str(REPO / 'configs/baselines/resnet50_4xb128-90e_imagenet-lt.py'))
    for split, n in (('train_dataloader', 384), ('val_dataloader', 30),
                     ('test_dataloader', 30)):
        ds = _build(cfg, 'DATASETS', cfg[split].dataset)
        assert len(ds) == n
        assert ds[0]['inputs'].shape[-2:] == (224, 224)
    metric = _build(cfg, 'METRICS', cfg.val_evaluator)
    assert metric.stats.num_classes == 6 and metric.stats.num_images == 384


#: the env var of each real dataset's root, and the root the data-root test sets it to
DATA_ROOTS = {'LVIS_ROOT': '/srv/lvis_v1', 'IMAGENET_LT_ROOT': '/srv/imagenet',
              'PLACES_LT_ROOT': '/srv/places365'}


def _strings(node, key=''):
    """Every (key path, string) in a config dict; a dataset's relative ann_file is reported as
    the path the dataset reads (mmengine's BaseDataset joins it to data_root)."""
    if isinstance(node, dict):
        if isinstance(node.get('data_root'), str) and isinstance(node.get('ann_file'), str):
            yield f'{key}.ann_file (joined)', osp.join(node['data_root'], node['ann_file'])
        for k, v in node.items():
            yield from _strings(v, f'{key}.{k}')
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            yield from _strings(v, f'{key}[{i}]')
    elif isinstance(node, str):
        yield key, node


@pytest.mark.parametrize('path', REAL_CONFIGS)
def test_data_root_joins_with_and_without_trailing_slash(path, monkeypatch):
    """A data root typed without the trailing slash gives the same paths as with it, and every
    path under a root is separated from it ('/srv/lvis_v1annotations/...' was the bug)."""
    monkeypatch.chdir(REPO)
    loaded = []
    for slash in ('', '/'):
        for var, root in DATA_ROOTS.items():
            monkeypatch.setenv(var, root + slash)
        loaded.append(dict(_strings(Config.fromfile(path).to_dict())))
    assert loaded[0] == loaded[1]
    under_roots = {k: s for k, s in loaded[0].items() if s.startswith('/srv/')}
    dataset = _dataset(path)
    assert under_roots, f'{path}: no path under a data root'
    for key, value in under_roots.items():
        assert any(value.startswith(root + '/') for root in DATA_ROOTS.values()), (key, value)
        assert '//' not in value, (key, value)
    expected = {
        'lvis-v1': ('.val_evaluator.ann_file', '/srv/lvis_v1/annotations/lvis_v1_val.json'),
        'imagenet-lt': ('.val_evaluator.train_ann_file', '/srv/imagenet/ImageNet_LT_train.txt'),
        'places-lt': ('.val_evaluator.train_ann_file', '/srv/places365/Places_LT_train.txt'),
    }[dataset]
    assert loaded[0][expected[0]] == expected[1]
    if dataset == 'lvis-v1':
        assert (loaded[0]['.train_dataloader.dataset.dataset.ann_file (joined)'] ==
                '/srv/lvis_v1/annotations/lvis_v1_train.json')
    else:
        assert loaded[0]['.train_dataloader.dataset.ann_file (joined)'] == osp.join(
            expected[1].rsplit('/', 1)[0], expected[1].rsplit('/', 1)[1])


def test_layout_names_and_metafiles():
    """One folder per method, embedded-data twins in its demo/ subfolder; names say backbone,
    method, (GPUs x batch-) schedule and data; each method folder has a README.md and a
    metafile.yml that lists exactly its configs; the model index lists every metafile."""
    import yaml
    index = yaml.safe_load((REPO / 'ltr_plugins/.mim/model-index.yml').read_text())
    assert sorted(index['Import']) == sorted(f'configs/{d}/metafile.yml' for d in METHOD_DIRS)
    # <backbone>_<method...>_[<GPUs>xb<batch>-]<schedule>_<data>.py; test-only configs (post-hoc
    # IIF) have no schedule; a backbone variant as mmdet's (r50-caffe): r18-w32
    name = re.compile(r'^(resnet\d+|convnet|mask-rcnn_r\d+(-[a-z0-9]+)?_fpn)_([a-z0-9.-]+_)*'
                      r'(lvis-v1|imagenet-lt|places-lt|demo-cls|demo-lvis)\.py$')
    schedule = re.compile(r'_(\d+xb\d+-\d+e|\d+x)_')
    for path in CONFIGS:
        if path in ALIASES:
            assert Config.fromfile(str(REPO / path)).to_dict() == \
                Config.fromfile(str(REPO / ALIASES[path])).to_dict()
            continue
        parts = Path(path).parts
        assert parts[1] in METHOD_DIRS, path
        demo = len(parts) == 4
        assert (demo and parts[2] == 'demo') or len(parts) == 3, path
        assert name.match(parts[-1]), path
        assert schedule.search(parts[-1]) or 'posthoc' in parts[-1], path
        assert parts[-1].endswith(('_demo-cls.py', '_demo-lvis.py')) == demo, path
    for method in METHOD_DIRS:
        folder = REPO / 'configs' / method
        assert (folder / 'README.md').is_file()
        meta = yaml.safe_load((folder / 'metafile.yml').read_text())
        listed = sorted(m['Config'] for m in meta['Models'])
        assert listed == sorted(p for p in CONFIGS if p.startswith(f'configs/{method}/')), method
        for collection in meta['Collections']:
            assert {'Name', 'Metadata', 'Paper', 'README', 'Code'} <= set(collection), method
            assert collection['README'] == f'configs/{method}/README.md'
        collections = {c['Name'] for c in meta['Collections']}
        for model in meta['Models']:
            assert model['Name'] == osp.splitext(osp.basename(model['Config']))[0]
            assert model['In Collection'] in collections
            assert 'Training Data' in model['Metadata'], model['Name']
            for result in model.get('Results', []):
                assert {'Task', 'Dataset', 'Metrics'} <= set(result), model['Name']


#: real-data IIF modes that start from a plain baseline -> that baseline
IIF_MODES = {
    'configs/iif/mask-rcnn_r50_fpn_iif-raw-posthoc_lvis-v1.py':
        'configs/baselines/mask-rcnn_r50_fpn_sample1e-3_1x_lvis-v1.py',
    'configs/iif/mask-rcnn_r50_fpn_iif-raw-decoupled_8xb2-4e_lvis-v1.py':
        'configs/baselines/mask-rcnn_r50_fpn_sample1e-3_1x_lvis-v1.py',
    'configs/iif/resnet50_iif-smooth-posthoc_imagenet-lt.py':
        'configs/baselines/resnet50_4xb128-90e_imagenet-lt.py',
    'configs/iif/resnet50_iif-smooth-decoupled_4xb128-10e_imagenet-lt.py':
        'configs/baselines/resnet50_4xb128-90e_imagenet-lt.py',
}


@pytest.mark.parametrize('path', sorted(IIF_MODES))
def test_iif_post_hoc_and_decoupled_configs_fit_the_baseline(path):
    """A post-hoc / decoupled IIF config has exactly its baseline's parameters (so the
    baseline's checkpoint loads whole) plus the IIF weight buffer; a decoupled one loads the
    last checkpoint the baseline writes to its default work dir and trains only the classifier."""
    cfg, base = Config.fromfile(str(REPO / path)), Config.fromfile(str(REPO / IIF_MODES[path]))
    tested, loaded = (build_model(c).state_dict() for c in (cfg, base))
    assert set(tested) - set(loaded) == {next(k for k in tested if k.endswith('iif.weights'))}
    assert set(loaded) <= set(tested)
    assert all(tested[k].shape == loaded[k].shape for k in loaded), path
    if 'posthoc' in path:
        return
    stem = osp.splitext(osp.basename(IIF_MODES[path]))[0]
    assert cfg.load_from == f'work_dirs/{stem}/epoch_{base.train_cfg.max_epochs}.pth'
    if cfg.default_scope == 'mmdet':  # every parameter but fc_cls's frozen
        model = build_model(cfg)
        assert cfg.model.type == 'BoxHeadRetrainDetector'
        assert {n for n, p in model.named_parameters() if p.requires_grad} == \
            {'roi_head.bbox_head.fc_cls.weight', 'roi_head.bbox_head.fc_cls.bias'}
    else:
        assert cfg.model.backbone.frozen_stages == 4 and cfg.model.backbone.norm_eval
