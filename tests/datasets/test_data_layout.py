"""The data-layout check (ltr_plugins.datasets.layout_check, tools/check_data.py,
ltr-check-data, the check in build_runner): a complete layout passes with counts computed
independently from the files; a broken one names every missing file, exits non-zero and writes
nothing."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ltr_testing import REPO

from ltr_plugins.datasets.layout_check import (DataLayoutError, check_layout, iter_datasets,
                                               referenced_files, require_complete_layout)


def _det_cfg(root: str, anchors: str = '') -> dict:
    """A resolved LVIS-style config as nested dicts (as tools see it after Config.fromfile)."""
    def lvis(split):
        return dict(type='LVISV1JsonDataset', data_root=root,
                    ann_file=f'annotations/lvis_v1_{split}.json', data_prefix=dict(img=''))
    val = dict(batch_size=1, dataset=lvis('val'))
    cfg = dict(filename='det_cfg.py',
               train_dataloader=dict(dataset=dict(type='ClassBalancedDataset',
                                                  dataset=lvis('train'))),
               val_dataloader=val, test_dataloader=val,
               val_evaluator=dict(type='LongTailLVISMetric',
                                  ann_file=root + 'annotations/lvis_v1_val.json'),
               model=dict(roi_head=dict(bbox_head=dict(cls_predictor_cfg=dict(
                   type='LGRPredictor', anchors=anchors)))))
    cfg['test_evaluator'] = cfg['val_evaluator']
    return cfg


def _cls_cfg(root: str) -> dict:
    def ds(split):
        return dict(type='CustomDataset', data_root=root, ann_file=f'ImageNet_LT_{split}.txt')
    return dict(filename='cls_cfg.py', model=dict(head=dict(num_classes=6)),
                train_dataloader=dict(dataset=ds('train')), val_dataloader=dict(dataset=ds('val')),
                test_dataloader=dict(dataset=dict(type='ConcatDataset',
                                                  datasets=[ds('test'), ds('open')])),
                val_evaluator=dict(type='LongTailAccuracy',
                                   train_ann_file=root + 'ImageNet_LT_train.txt'))


@pytest.fixture()
def lvis_copy(tiny_data, tmp_path) -> Path:
    """A private copy of the tiny LVIS-format data (tests break it)."""
    dst = tmp_path / 'lvis_v1'
    shutil.copytree(tiny_data / 'lvis_v1', dst)
    return dst


def _files(root: Path) -> set:
    return {str(p.relative_to(root)) for p in root.rglob('*')}


def test_walk_finds_wrapped_datasets_and_model_files():
    cfg = _cls_cfg('r/')
    wheres = [w for w, _ in iter_datasets(cfg)]
    assert wheres == ['train_dataloader.dataset', 'val_dataloader.dataset',
                      'test_dataloader.dataset.datasets[0]', 'test_dataloader.dataset.datasets[1]']
    det = _det_cfg('r/', anchors='a.safetensors')
    det['model']['head'] = dict(text_encoder=dict(type='open_clip', checkpoint='clip.pt'),
                                classes='classes.txt', iif=dict(stats='lvis_v1'))
    det['load_from'] = 'https://example.org/x.pth'  # URLs are not local files
    found = {(what, path) for what, path, _ in referenced_files(det)}
    assert found == {('evaluation annotation file', 'r/annotations/lvis_v1_val.json'),
                     ('VL-LTR anchor file', 'a.safetensors'),
                     ('text encoder checkpoint', 'clip.pt'), ('class name list', 'classes.txt')}
    assert check_layout(dict(model=None, train_dataloader=None)).ok  # nothing to read
    # the shared val/test dataset is listed once
    assert [w for w, _ in iter_datasets(det)] == ['train_dataloader.dataset.dataset',
                                                  'val_dataloader.dataset']


def test_complete_lvis_layout_counts_match_the_files(lvis_copy):
    root = str(lvis_copy) + '/'
    report = check_layout(_det_cfg(root), full=True)
    assert report.ok, report.format()
    for summary, split in zip(report.datasets, ('train', 'val')):
        data = json.loads((lvis_copy / 'annotations' / f'lvis_v1_{split}.json').read_text())
        assert summary.num_images == len(data['images'])
        assert summary.num_annotations == len(data['annotations'])
        assert summary.num_classes == len(data['categories'])
        assert summary.images_checked == len(data['images'])
        folders = {}
        for img in data['images']:
            top = img['coco_url'].split('/')[3]  # http://images.cocodataset.org/<top>/...
            folders[top] = folders.get(top, 0) + 1
        assert summary.folders == folders
    # 12 glyph classes: not the LVIS v1 category set, said as a warning
    assert any('neither LVIS v1' in w for w in report.warnings)
    assert 'layout OK' in report.format()


def test_broken_lvis_layout_names_every_missing_file(lvis_copy):
    root = str(lvis_copy) + '/'
    (lvis_copy / 'annotations' / 'lvis_v1_val.json').unlink()
    shutil.rmtree(lvis_copy / 'val2017')
    anchors = str(lvis_copy / 'vlltr_anchors_m16.safetensors')
    report = check_layout(_det_cfg(root, anchors))
    missing = {path for _, path, _ in report.missing}
    assert missing == {root + 'annotations/lvis_v1_val.json', root + 'val2017', anchors}
    with pytest.raises(DataLayoutError) as err:
        require_complete_layout(_det_cfg(root, anchors))
    for path in missing:
        assert path in str(err.value)
    assert 'val_dataloader.dataset.ann_file' in str(err.value)


def test_full_check_finds_a_missing_image(lvis_copy):
    data = json.loads((lvis_copy / 'annotations' / 'lvis_v1_train.json').read_text())
    gone = data['images'][3]['coco_url'].replace('http://images.cocodataset.org/', '')
    (lvis_copy / gone).unlink()
    report = check_layout(_det_cfg(str(lvis_copy) + '/'), full=True)
    assert not report.ok
    train = report.datasets[0]
    assert (train.num_missing_images, train.missing_images) == (1, [gone])
    assert any(gone in p for p in report.problems)
    # an evenly spaced sample of 2 (first and last image) does not see it
    sampled = check_layout(_det_cfg(str(lvis_copy) + '/'), full=True, max_images=2)
    assert sampled.datasets[0].images_checked == 2 and sampled.ok


def test_val_json_with_other_categories_is_a_problem(lvis_copy):
    path = lvis_copy / 'annotations' / 'lvis_v1_val.json'
    data = json.loads(path.read_text())
    data['categories'] = data['categories'][:-1]
    path.write_text(json.dumps(data))
    report = check_layout(_det_cfg(str(lvis_copy) + '/'), full=True)
    assert any(str(path) in p and 'not those of the first' in p for p in report.problems)
    # the "not the LVIS v1 category set" warning is given once, for the first json
    assert sum('neither LVIS v1' in w for w in report.warnings) == 1


def test_classification_lists_counts_and_open_set(tiny_data):
    root = str(tiny_data / 'classification') + '/'
    report = check_layout(_cls_cfg(root), full=True)
    assert report.ok, report.format()
    by_where = {s.where: s for s in report.datasets}
    for split, where in (('train', 'train_dataloader.dataset'),
                         ('open', 'test_dataloader.dataset.datasets[1]')):
        lines = (tiny_data / 'classification' / f'ImageNet_LT_{split}.txt').read_text().split()
        labels = [int(x) for x in lines[1::2]]
        assert by_where[where].num_images == len(labels)
        assert by_where[where].folders == {split: len(labels)}
    assert by_where['train_dataloader.dataset'].num_classes == 6
    assert any('open-set' in n for n in by_where['test_dataloader.dataset.datasets[1]'].notes)
    # named ImageNet_LT_train.txt but 6 classes: not the packaged ImageNet-LT counts
    assert any('imagenet_lt' in w for w in report.warnings)
    # a label beyond the model's classes is a problem
    cfg = _cls_cfg(root)
    cfg['model']['head']['num_classes'] = 4
    assert any('model has 4 classes' in p for p in check_layout(cfg, full=True).problems)


def _broken_config(tmp_path: Path, root: Path) -> Path:
    cfg = tmp_path / 'broken_lvis.py'
    cfg.write_text(
        f"_base_ = '{REPO}/configs/baselines/demo/"
        "mask-rcnn_r18_fpn_sample1e-3_1xb8-6e_demo-lvis.py'\n"
        "embedded_data = None\n"
        f"data_root = '{root}/'\n"
        "train_dataloader = dict(dataset=dict(dataset=dict(data_root=data_root)))\n"
        "val_dataloader = dict(dataset=dict(data_root=data_root))\n"
        "test_dataloader = val_dataloader\n"
        "val_evaluator = dict(ann_file=data_root + 'annotations/lvis_v1_val.json')\n"
        "test_evaluator = val_evaluator\n")
    return cfg


def test_check_data_tool_broken_layout_exits_nonzero_and_writes_nothing(lvis_copy, tmp_path):
    (lvis_copy / 'annotations' / 'lvis_v1_train.json').unlink()
    cfg = _broken_config(tmp_path, lvis_copy)
    before = _files(tmp_path)
    proc = subprocess.run([sys.executable, str(REPO / 'tools/check_data.py'), str(cfg)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={**os.environ, 'PYTHONPATH': str(REPO)})
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert f'MISSING annotation file: {lvis_copy}/annotations/lvis_v1_train.json' in proc.stdout
    assert 'train_dataloader.dataset.dataset.ann_file' in proc.stdout
    assert 'layout INCOMPLETE' in proc.stdout
    assert _files(tmp_path) == before  # no work_dir, no report file


def test_check_data_tool_complete_layout_exit_zero(lvis_copy, tmp_path, capsys):
    from ltr_plugins.tools import check_data as tool
    assert tool.main([str(_broken_config(tmp_path, lvis_copy))]) == 0
    out = capsys.readouterr().out
    assert 'layout OK' in out and 'counts: images' in out


def test_train_refuses_a_broken_layout_before_building_the_runner(lvis_copy, tmp_path):
    shutil.rmtree(lvis_copy / 'train2017')
    work_dir = tmp_path / 'work'
    from ltr_plugins.tools import train
    with pytest.raises(DataLayoutError, match=f'{lvis_copy}/train2017'):
        train.main([str(_broken_config(tmp_path, lvis_copy)), '--work-dir', str(work_dir)])
    assert not work_dir.exists()  # the runner (which creates it) was never built


def test_console_entry_is_declared(monkeypatch, capsys):
    from ltr_plugins import cli
    assert 'ltr-check-data = ltr_plugins.cli:check_data' in (REPO / 'setup.cfg').read_text()
    monkeypatch.setattr(sys, 'argv', ['ltr-check-data', '--help'])
    with pytest.raises(SystemExit) as done:
        cli.check_data()
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert 'usage: ltr-check-data' in out and '--max-images' in out


@pytest.mark.parametrize('config, env, sub', [
    ('configs/baselines/mask-rcnn_r50_fpn_sample1e-3_1x_lvis-v1.py', 'LVIS_ROOT', 'lvis_v1'),
    ('configs/baselines/resnet50_4xb128-90e_imagenet-lt.py', 'IMAGENET_LT_ROOT', 'classification'),
    ('configs/oltr/resnet10_oltr-stage1_1xb128-30e_imagenet-lt.py', 'IMAGENET_LT_ROOT',
     'classification'),
])
def test_real_data_configs_on_the_embedded_layout(config, env, sub, tiny_data, monkeypatch):
    """The shipped real-data configs, pointed at the embedded data (same layout), pass."""
    from mmengine.config import Config
    monkeypatch.setenv(env, str(tiny_data / sub) + '/')
    report = check_layout(Config.fromfile(str(REPO / config)), full=True, max_images=50)
    assert report.ok, report.format()
    assert all(s.num_images for s in report.datasets)
    if 'oltr' in config:  # the open-set list of the test ConcatDataset is found
        assert any('open-set' in n for s in report.datasets for n in s.notes)


def test_lvis_vlltr_config_names_the_anchor_file(tiny_data, monkeypatch, tmp_path):
    from mmengine.config import Config
    monkeypatch.setenv('LVIS_ROOT', str(tiny_data / 'lvis_v1') + '/')
    monkeypatch.chdir(tmp_path)  # the anchor path is relative to the working directory
    config = 'configs/vlltr/mask-rcnn_r50_fpn_vlltr-lgr-m16_sample1e-3_1x_lvis-v1.py'
    report = check_layout(Config.fromfile(str(REPO / config)))
    assert report.missing == [('VL-LTR anchor file', 'data/lvis_v1/vlltr_anchors_m16.safetensors',
                               'model.roi_head.bbox_head.cls_predictor_cfg.anchors')]
