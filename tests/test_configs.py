"""Every shipped config parses and builds; the real-data configs run their data pipelines and
evaluators on the embedded data (same layout, only the root differs)."""
import glob
import json
import os
from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

import ltr_plugins  # noqa: F401
from conftest import REPO

CONFIGS = sorted(str(Path(p).relative_to(REPO)) for p in glob.glob(str(REPO / 'configs/**/*.py'),
                                                                   recursive=True)
                 if '/_base_/' not in p)


def _build_model(cfg):
    from mmengine.registry import MODELS
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        model = MODELS.build(cfg.model)
    return model


def _vlltr_inputs(cfg, tmp_path, num_classes: int):
    """VL-LTR configs read files made by earlier stages (anchor embeddings) or supplied by the
    user (CLIP checkpoint, class texts): point them at small stand-ins of the right size."""
    import torch
    from ltr_plugins.core.vlltr import (CLASS_TEXTS_FORMAT, AnchorEmbeddings,
                                        save_anchor_embeddings)
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
    model = _build_model(cfg)
    head = model.roi_head.bbox_head if cfg.default_scope == 'mmdet' else model.head
    if 'vlltr' in path and cfg.default_scope == 'mmdet':
        assert type(head.fc_cls).__name__ == 'LGRPredictor'
        head = head.fc_cls  # holds the IIF weights
    num_classes = head.num_classes
    if '/lvis/' in path:
        assert num_classes == 1203
        assert cfg.model.test_cfg.rcnn.score_thr == 1e-4 and cfg.model.test_cfg.rcnn.max_per_img == 300
    elif '/imagenet_lt/' in path:
        assert num_classes == 1000
    elif '/places_lt/' in path:
        assert num_classes == 365
    if 'iif' in path:
        assert head.iif.weights.numel() == num_classes + (cfg.default_scope == 'mmdet')


def _build(cfg, registry_name, item):
    import importlib
    registry = getattr(importlib.import_module(f'{cfg.default_scope}.registry'), registry_name)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        return registry.build(item)


def test_lvis_config_on_embedded_data(tiny_data, monkeypatch):
    monkeypatch.setenv('LVIS_ROOT', str(tiny_data / 'lvis_v1') + '/')
    cfg = Config.fromfile(str(REPO / 'configs/lvis/mask_rcnn_r50_fpn_1x_lvis_v1.py'))
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
    cfg = Config.fromfile(str(REPO / 'configs/imagenet_lt/resnet50_ce_90e_imagenet_lt.py'))
    for split, n in (('train_dataloader', 384), ('val_dataloader', 30),
                     ('test_dataloader', 30)):
        ds = _build(cfg, 'DATASETS', cfg[split].dataset)
        assert len(ds) == n
        assert ds[0]['inputs'].shape[-2:] == (224, 224)
    metric = _build(cfg, 'METRICS', cfg.val_evaluator)
    assert metric.stats.num_classes == 6 and metric.stats.num_images == 384
