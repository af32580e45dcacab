"""Inference as with mmdet / mmpretrain: their Inferencers on this package's configs and
checkpoints, ``tools/test.py --out`` and checkpoints given as http:// URLs."""
import functools
import hashlib
import http.server
import json
import pickle
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from ltr_testing import REPO

from ltr_plugins.tools.publish_model import main as publish_main

DET_CFG = 'configs/iif/demo/mask-rcnn_r18_fpn_iif-raw_1xb8-6e_demo-lvis.py'
CLS_CFGS = ['configs/baselines/demo/convnet_1xb64-30e_demo-cls.py',
            'configs/iif/demo/convnet_cosine-s16_iif-smooth_1xb64-30e_demo-cls.py',
            # open-set test set (known + open lists): a PipelineConcatDataset
            'configs/oltr/demo/convnet_oltr-stage2_1xb64-15e_demo-cls.py']
TINY_DET = 'tests/configs/mask_rcnn_tiny.py'
TINY_CLS = 'tests/configs/convnet_tiny.py'


def _build(cfg_path: str, seed: int):
    """(config, model, dataset registry) of a config, the model initialised from ``seed``."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    cfg = Config.fromfile(REPO / cfg_path)  # custom_imports: imports ltr_plugins
    init_default_scope(cfg.default_scope)
    if cfg.default_scope == 'mmdet':
        from mmdet.registry import DATASETS, MODELS
    else:
        from mmpretrain.registry import DATASETS, MODELS
    if cfg.get('data_preprocessor'):  # top-level in mmpretrain configs: as mmengine's Runner
        cfg.model.setdefault('data_preprocessor', cfg.data_preprocessor)
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model).eval()
    return cfg, model, DATASETS


def _classes(cfg) -> tuple:
    if cfg.default_scope == 'mmdet':
        ann = json.loads(Path(cfg.test_evaluator.ann_file).read_text())
        return tuple(c['name'] for c in sorted(ann['categories'], key=lambda c: c['id']))
    dataset = cfg.test_dataloader.dataset
    dataset = dataset.datasets[0] if 'datasets' in dataset else dataset  # the known test list
    return tuple(Path(dataset.classes).read_text().split())


def _save_checkpoint(cfg_path: str, path: Path, seed: int = 0) -> dict:
    """A checkpoint as a user publishes it: weights + ``meta.dataset_meta.classes``."""
    cfg, model, _ = _build(cfg_path, seed)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    torch.save(dict(state_dict=state, meta=dict(dataset_meta=dict(classes=_classes(cfg)))),
               path)
    return state


def _reference(cfg_path: str, ckpt: Path, img_path: str):
    """The model's own ``test_step`` on the test set's sample of ``img_path``: a model built
    from another seed, the checkpoint's weights loaded with torch, the dataset's pipeline."""
    from mmengine.dataset import pseudo_collate
    cfg, model, datasets = _build(cfg_path, seed=1)
    model.load_state_dict(torch.load(ckpt, weights_only=True)['state_dict'])
    dataset = datasets.build(cfg.test_dataloader.dataset)
    index = next(i for i in range(len(dataset))
                 if dataset.get_data_info(i)['img_path'] == img_path)
    with torch.no_grad():
        return model.test_step(pseudo_collate([dataset[index]]))[0]


def test_det_inferencer(demo_data, tmp_path, monkeypatch):
    """``DetInferencer(model=CONFIG, weights=CKPT)`` on a packaged IIF LVIS config predicts
    what the model's own test_step predicts, with the checkpoint's class names."""
    from mmdet.apis import DetInferencer
    from pycocotools import mask as mask_utils
    monkeypatch.chdir(REPO)  # the configs' data roots are relative to the checkout
    ckpt = tmp_path / 'det.pth'
    _save_checkpoint(DET_CFG, ckpt)
    img = sorted(str(p) for p in (demo_data / 'lvis_v1' / 'val2017').glob('*.jpg'))[0]
    img = str(Path(img).relative_to(REPO))  # as the dataset names it (data_root + file)
    inferencer = DetInferencer(model=DET_CFG, weights=str(ckpt), device='cpu')
    classes = _classes(inferencer.cfg)
    assert inferencer.model.dataset_meta['classes'] == classes
    # the default output: plain lists, one entry per object (xyxy boxes, RLE masks)
    pred = inferencer(img)['predictions'][0]
    ref = _reference(DET_CFG, ckpt, img).pred_instances
    assert set(pred) == {'labels', 'scores', 'bboxes', 'masks'}
    assert len(ref) > 0 and all(len(pred[k]) == len(ref) for k in pred)
    np.testing.assert_allclose(pred['scores'], ref.scores.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(pred['bboxes'], ref.bboxes.numpy(), rtol=1e-5, atol=1e-3)
    assert pred['labels'] == ref.labels.tolist()
    assert all(0 <= label < len(classes) for label in pred['labels'])
    rles = mask_utils.encode(np.asfortranarray(ref.masks.numpy().transpose(1, 2, 0)
                                               .astype(np.uint8)))
    assert [m['size'] for m in pred['masks']] == [[128, 128]] * len(ref)  # the image's size
    assert [m['counts'] for m in pred['masks']] == [r['counts'].decode() for r in rles]


@pytest.mark.parametrize('cfg_path', CLS_CFGS)
def test_image_classification_inferencer(demo_data, tmp_path, monkeypatch, cfg_path):
    """``ImageClassificationInferencer`` (linear head; cosine + IIF head and OLTR's
    meta-embedding head of this package): the scores equal the model's own test_step output for
    the image."""
    from mmpretrain.apis import ImageClassificationInferencer
    monkeypatch.chdir(REPO)
    ckpt = tmp_path / 'cls.pth'
    _save_checkpoint(cfg_path, ckpt)
    root = Path('data/demo/classification')
    rel = (root / 'ImageNet_LT_test.txt').read_text().split()[0]
    img = str(root / rel)
    inferencer = ImageClassificationInferencer(model=cfg_path, pretrained=str(ckpt),
                                               device='cpu')
    pred = inferencer(img)[0]
    ref = _reference(cfg_path, ckpt, img)
    np.testing.assert_allclose(pred['pred_scores'], ref.pred_score.numpy(), rtol=1e-5,
                               atol=1e-7)
    assert pred['pred_label'] == int(ref.pred_label) == int(np.argmax(pred['pred_scores']))
    classes = _classes(inferencer.config)
    assert pred['pred_class'] == classes[pred['pred_label']]
    assert pred['pred_scores'].shape == (len(classes), )


def test_published_training_checkpoint(tiny_data, tmp_path, monkeypatch):
    """A checkpoint as mmengine's runner writes it (message hub with HistoryBuffer, optimizer
    and scheduler state) does not load in the Inferencers on torch >= 2.6 (weights_only);
    tools/publish_model.py keeps meta + state_dict, and the published file does."""
    from mmengine.logging import MessageHub
    from mmpretrain.apis import ImageClassificationInferencer
    monkeypatch.chdir(REPO)
    cfg, model, _ = _build(TINY_CLS, seed=0)
    hub = MessageHub.get_instance('test_published_training_checkpoint')
    hub.update_scalar('train/loss', 1.5)
    optimizer = torch.optim.AdamW(model.parameters())
    raw = tmp_path / 'epoch_1.pth'
    torch.save(dict(meta=dict(epoch=1, seed=0, dataset_meta=dict(classes=_classes(cfg))),
                    state_dict=model.state_dict(), message_hub=hub.state_dict(),
                    optimizer=optimizer.state_dict(), param_schedulers=[]), raw)
    with pytest.raises(Exception, match='HistoryBuffer'):  # what the Inferencers would do
        torch.load(raw, weights_only=True)
    published = publish_main([str(raw), str(tmp_path / 'pub.pth')])
    digest = hashlib.sha256(Path(published).read_bytes()).hexdigest()[:8]
    assert Path(published) == tmp_path / f'pub-{digest}.pth'
    loaded = torch.load(published, weights_only=True)
    assert set(loaded) == {'meta', 'state_dict'}
    for k, v in model.state_dict().items():
        torch.testing.assert_close(loaded['state_dict'][k], v, msg=k)
    img = str(Path('data/tiny/classification') /
              (tiny_data / 'classification/ImageNet_LT_test.txt').read_text().split()[0])
    pred = ImageClassificationInferencer(model=TINY_CLS, pretrained=published,
                                         device='cpu')(img)[0]
    ref = _reference(TINY_CLS, Path(published), img)
    np.testing.assert_allclose(pred['pred_scores'], ref.pred_score.numpy(), rtol=1e-5,
                               atol=1e-7)
    assert pred['pred_class'] == _classes(cfg)[int(ref.pred_label)]
    with pytest.raises(KeyError, match='no "state_dict"'):
        torch.save(dict(meta={}), tmp_path / 'empty.pth')
        publish_main([str(tmp_path / 'empty.pth'), str(tmp_path / 'x.pth')])


def _test_tool():
    from ltr_plugins.tools import test
    return test


def test_test_out_pickles_the_evaluated_predictions(tiny_data, tmp_path, monkeypatch):
    """--out: one pickled prediction per test image; the classification metrics recomputed
    from the pickle equal the ones tools/test.py reports."""
    monkeypatch.chdir(REPO)
    ckpt = tmp_path / 'cls.pth'
    _save_checkpoint(TINY_CLS, ckpt)
    out = tmp_path / 'preds.pkl'
    metrics = _test_tool().main([TINY_CLS, str(ckpt), '--work-dir', str(tmp_path),
                                 '--out', str(out)])
    with open(out, 'rb') as f:
        preds = pickle.load(f)
    test_list = (tiny_data / 'classification' / 'ImageNet_LT_test.txt').read_text().splitlines()
    assert len(preds) == len(test_list)
    for p in preds:
        assert {'pred_score', 'pred_label', 'gt_label', 'img_path'} <= set(p)
        assert int(p['pred_label']) == int(torch.argmax(p['pred_score']))
    gt = {f'data/tiny/classification/{line.split()[0]}': int(line.split()[1])
          for line in test_list}
    assert sorted(p['img_path'] for p in preds) == sorted(gt)
    assert all(int(p['gt_label']) == gt[p['img_path']] for p in preds)
    top1 = 100 * np.mean([int(p['pred_label']) == int(p['gt_label']) for p in preds])
    assert metrics['accuracy/top1'] == pytest.approx(top1, abs=1e-4)
    # --out-item metrics: the metrics dict itself
    out_json = tmp_path / 'metrics.json'
    again = _test_tool().main([TINY_CLS, str(ckpt), '--work-dir', str(tmp_path),
                               '--out', str(out_json), '--out-item', 'metrics'])
    assert json.loads(out_json.read_text()) == pytest.approx(again)


def test_test_out_detection_evaluates_offline(tiny_data, tmp_path, monkeypatch):
    """--out with an mmdet config: mmdet's DumpDetResults items (RLE masks, no ground truth),
    the very detections the LVIS evaluator scored (its results json), and the evaluator run
    offline on the pickle reproduces tools/test.py's metrics."""
    from mmengine.config import Config
    from mmengine.evaluator import Evaluator
    from pycocotools import mask as mask_utils
    monkeypatch.chdir(REPO)
    ckpt = tmp_path / 'det.pth'
    _save_checkpoint(TINY_DET, ckpt)
    out, prefix = tmp_path / 'preds.pkl', tmp_path / 'lvis_results'
    metrics = _test_tool().main([
        TINY_DET, str(ckpt), '--work-dir', str(tmp_path), '--out', str(out), '--cfg-options',
        'model.test_cfg.rcnn.max_per_img=20', f'test_evaluator.outfile_prefix={prefix}'])
    with open(out, 'rb') as f:
        preds = pickle.load(f)
    ann = json.loads((tiny_data / 'lvis_v1/annotations/lvis_v1_val.json').read_text())
    assert sorted(p['img_id'] for p in preds) == sorted(im['id'] for im in ann['images'])
    scored = {}  # image id -> scores of the detections the evaluator scored
    for det in json.loads(Path(f'{prefix}.bbox.json').read_text()):
        scored.setdefault(det['image_id'], []).append(det['score'])
    assert sum(len(p['pred_instances']['scores']) for p in preds) == \
        sum(map(len, scored.values())) > 0
    for p in preds:
        assert 'gt_instances' not in p
        inst = p['pred_instances']
        n = len(inst['scores'])
        assert inst['bboxes'].shape == (n, 4) and len(inst['labels']) == n
        assert len(inst['masks']) == n and all('counts' in m for m in inst['masks'])
        assert sorted(inst['scores'].tolist()) == \
            pytest.approx(sorted(scored.get(p['img_id'], [])), abs=1e-6)
        # mmdet's LVISMetric takes mask tensors: decode the RLEs for the offline run
        h, w = p['ori_shape']
        inst['masks'] = torch.from_numpy(mask_utils.decode(inst['masks'])).permute(2, 0, 1) \
            if n else torch.zeros((0, h, w), dtype=torch.uint8)
    cfg = Config.fromfile(REPO / TINY_DET)
    evaluator = Evaluator(cfg.test_evaluator)
    evaluator.dataset_meta = dict(classes=_classes(cfg))
    offline = evaluator.offline_evaluate(preds, chunk_size=len(preds))
    for key in ('lvis/bbox_AP', 'lvis/bbox_AP50', 'lvis/segm_AP', 'lvis/bbox_APf'):
        assert offline[key] == pytest.approx(metrics[key]), key


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # no request lines on stderr
        pass


@pytest.fixture
def http_root(tmp_path):
    """A directory served over real HTTP on 127.0.0.1 (a free port) for the test."""
    root = tmp_path / 'served'
    root.mkdir()
    server = http.server.ThreadingHTTPServer(
        ('127.0.0.1', 0), functools.partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f'http://127.0.0.1:{server.server_address[1]}'
    server.shutdown()
    server.server_close()


def test_checkpoint_url(tiny_data, tmp_path, monkeypatch, http_root):
    """tools/test.py CONFIG http://...: mmengine downloads the checkpoint (into
    $TORCH_HOME/hub/checkpoints) and the test evaluates the same weights as the local file;
    with the tools' checkpoint fixes applied a URL still loads, weights equal to the file's,
    and an object outside the allow-list is refused."""
    from mmengine.runner import CheckpointLoader

    from ltr_plugins.compat import apply_tool_fixes
    monkeypatch.chdir(REPO)
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    root, url = http_root
    state = _save_checkpoint(TINY_CLS, root / 'served_ckpt.pth', seed=3)
    local = _test_tool().main([TINY_CLS, str(root / 'served_ckpt.pth'), '--work-dir',
                               str(tmp_path / 'local'), '--out', str(tmp_path / 'local.pkl')])
    remote = _test_tool().main([TINY_CLS, f'{url}/served_ckpt.pth', '--work-dir',
                                str(tmp_path / 'remote'), '--out', str(tmp_path / 'remote.pkl')])
    assert remote == local
    a, b = (pickle.loads((tmp_path / f).read_bytes()) for f in ('local.pkl', 'remote.pkl'))
    for x, y in zip(a, b):
        torch.testing.assert_close(x['pred_score'], y['pred_score'])
    cached = tmp_path / 'torch_home' / 'hub' / 'checkpoints' / 'served_ckpt.pth'
    assert cached.read_bytes() == (root / 'served_ckpt.pth').read_bytes()
    apply_tool_fixes()
    loaded = CheckpointLoader.load_checkpoint(f'{url}/served_ckpt.pth', map_location='cpu')
    assert loaded['state_dict'].keys() == state.keys()
    for k, v in state.items():
        torch.testing.assert_close(loaded['state_dict'][k], v, msg=k)
    with pytest.raises(FileNotFoundError, match='no_such.pth'):
        _test_tool().main([TINY_CLS, str(tmp_path / 'no_such.pth')])
    # a URL checkpoint is unpickled with the tools' allow-list, as a local one (torch.hub
    # alone would run any pickled code)
    torch.save(dict(state_dict=state, meta=dict(payload=_NotAllowListed())),
               root / 'payload.pth')
    with pytest.raises(pickle.UnpicklingError, match='_NotAllowListed'):
        _test_tool().main([TINY_CLS, f'{url}/payload.pth', '--work-dir', str(tmp_path / 'bad')])


class _NotAllowListed:
    """A class no checkpoint allow-list admits."""


def test_out_arguments_are_checked(tmp_path):
    from ltr_plugins.dump import check_out_args, is_remote_checkpoint
    with pytest.raises(ValueError, match='--out-item needs --out'):
        check_out_args(None, 'pred')
    with pytest.raises(ValueError, match=r'\.pkl'):
        check_out_args(str(tmp_path / 'preds.json'), None)
    check_out_args(str(tmp_path / 'metrics.json'), 'metrics')  # any mmengine.dump format
    assert is_remote_checkpoint('https://download.openmmlab.com/x.pth')
    assert is_remote_checkpoint('torchvision://resnet50')
    assert not is_remote_checkpoint(str(tmp_path / 'http:' / 'x.pth'))


def test_pipeline_concat_dataset(tiny_data, monkeypatch):
    """The shared pipeline reaches every dataset; a dataset with another one is refused."""
    from mmengine.registry import init_default_scope

    from ltr_plugins.mmpretrain.datasets import PipelineConcatDataset
    monkeypatch.chdir(REPO)
    init_default_scope('mmpretrain')
    root = 'data/tiny/classification/'
    pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
    parts = [dict(type='CustomDataset', data_root=root, ann_file=f'ImageNet_LT_{s}.txt',
                  classes=root + 'classes.txt') for s in ('test', 'open')]
    dataset = PipelineConcatDataset(parts, pipeline=pipeline)
    lengths = [len((tiny_data / 'classification' / f'ImageNet_LT_{s}.txt').read_text()
                   .splitlines()) for s in ('test', 'open')]
    assert len(dataset) == sum(lengths)
    for index in (0, len(dataset) - 1):  # one image of each list, through the shared pipeline
        sample = dataset[index]
        assert sample['inputs'].shape[0] == 3
    assert int(dataset[len(dataset) - 1]['data_samples'].gt_label) == -1  # the open list
    with pytest.raises(ValueError, match=r'datasets\[1\] has its own pipeline'):
        PipelineConcatDataset([parts[0], dict(parts[1], pipeline=[dict(type='PackInputs')])],
                              pipeline=pipeline)
