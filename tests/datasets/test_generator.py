"""Tests of the embedded long-tailed data generator (CPU, seconds; the ``tiny`` preset)."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

from ltr_plugins.datasets import generator as g

GEN_FILE = Path(g.__file__).resolve()
# pycocotools' decode warns about numpy 2's __array__ copy keyword; harmless here.
pytestmark = pytest.mark.filterwarnings('ignore:__array__ implementation:DeprecationWarning')


def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob('*')) if p.is_file()}


def _mtimes(root: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in root.rglob('*') if p.is_file()}


@pytest.fixture(scope='module')
def tiny(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp('tiny')
    return out, g.generate(out, 'tiny', seed=0)


def _load(path: str) -> dict:
    return json.loads(Path(path).read_text())


def test_returned_paths_and_layout(tiny):
    out, paths = tiny
    assert sorted(paths) == sorted(['det_train_ann', 'det_val_ann', 'det_root', 'det_texts',
                                    'cls_root', 'cls_classes', 'cls_texts', 'cls_train_ann',
                                    'cls_val_ann', 'cls_test_ann', 'cls_open_ann'])
    assert paths['det_train_ann'] == str(out / 'lvis_v1/annotations/lvis_v1_train.json')
    assert paths['cls_test_ann'] == str(out / 'classification/ImageNet_LT_test.txt')
    assert all(Path(p).exists() for p in paths.values())
    stamp = _load(out / 'generator.json')
    assert (stamp['version'], stamp['preset'], stamp['seed'], stamp['tasks']) == \
        (g.GENERATOR_VERSION, 'tiny', 0, ['det', 'cls'])
    assert stamp['counts']['det']['groups'] == {'r': 2, 'c': 2, 'f': 2}


def test_determinism_across_processes_and_seeds(tiny, tmp_path):
    out, _ = tiny
    # Second run in a fresh process, through the module's own CLI run as a plain script.
    subprocess.run([sys.executable, str(GEN_FILE), '--preset', 'tiny', '--out',
                    str(tmp_path / 'same')], check=True, capture_output=True)
    ref = _hashes(out)
    assert len(ref) > 500
    assert _hashes(tmp_path / 'same') == ref
    g.generate(tmp_path / 'other', 'tiny', seed=1, tasks=('det',))
    other = _hashes(tmp_path / 'other')
    key = 'lvis_v1/annotations/lvis_v1_train.json'
    assert other[key] != ref[key]
    same_images = [k for k in other if k.endswith('.jpg') and other[k] == ref.get(k)]
    assert same_images == []


def test_idempotent_and_regenerates(tmp_path):
    out = tmp_path / 'd'
    first = g.generate(out, 'tiny', seed=0, tasks=('det',))
    before = _mtimes(out)
    assert g.generate(out, 'tiny', seed=0, tasks=['det']) == first
    assert _mtimes(out) == before  # nothing rewritten
    train = Path(first['det_train_ann'])
    old = train.read_bytes()
    g.generate(out, 'tiny', seed=1, tasks=('det',))  # changed seed -> new data
    assert _load(out / 'generator.json')['seed'] == 1
    assert train.read_bytes() != old
    # An interrupted run (no stamp) is regenerated from scratch: stale files go away.
    (out / 'generator.json').unlink()
    stale = out / 'lvis_v1' / 'train2017' / 'stale.jpg'
    stale.write_bytes(b'x')
    g.generate(out, 'tiny', seed=0, tasks=('det',))
    assert not stale.exists() and train.read_bytes() == old
    assert _load(out / 'generator.json')['seed'] == 0
    # force=True rewrites even if up to date.
    mt = train.stat().st_mtime_ns
    g.generate(out, 'tiny', seed=0, tasks=('det',), force=True)
    assert train.stat().st_mtime_ns != mt and train.read_bytes() == old


def test_lvis_format(tiny):
    from lvis import LVIS
    out, paths = tiny
    train, val = LVIS(paths['det_train_ann']), LVIS(paths['det_val_ann'])
    dtrain, dval = _load(paths['det_train_ann']), _load(paths['det_val_ann'])
    assert dtrain['categories'] == dval['categories']  # val carries train's records, like LVIS
    anns = dtrain['annotations']
    for cat in dtrain['categories']:
        mine = [a for a in anns if a['category_id'] == cat['id']]
        assert cat['instance_count'] == len(mine)
        assert cat['image_count'] == len({a['image_id'] for a in mine})
        n = cat['image_count']
        assert cat['frequency'] == ('r' if n <= 10 else 'c' if n <= 100 else 'f')
        assert cat['synonyms'] == [cat['name']] and cat['name'].islower()
    assert {c['frequency'] for c in dtrain['categories']} == {'r', 'c', 'f'}
    assert [c['id'] for c in dtrain['categories']] == list(range(1, 7))
    img_ids = [i['id'] for d in (dtrain, dval) for i in d['images']]
    ann_ids = [a['id'] for d in (dtrain, dval) for a in d['annotations']]
    assert len(set(img_ids)) == len(img_ids) and len(set(ann_ids)) == len(ann_ids)
    assert len(train.get_img_ids()) == 200 and len(val.get_img_ids()) == 20
    for d, split in ((dtrain, 'train'), (dval, 'val')):
        present: dict[int, set] = {}
        for a in d['annotations']:
            present.setdefault(a['image_id'], set()).add(a['category_id'])
        for im in d['images']:
            assert im['coco_url'].startswith(f'http://images.cocodataset.org/{split}2017/')
            f = out / 'lvis_v1' / im['coco_url'].replace('http://images.cocodataset.org/', '')
            with Image.open(f) as pil:
                assert pil.size == (im['width'], im['height']) == (64, 64)
            assert im['id'] in present  # every image has >= 1 annotation
            assert im['neg_category_ids'] == sorted(set(range(1, 7)) - present[im['id']])
            assert im['not_exhaustive_category_ids'] == []
    val_imgs = Counter(c for a_img, c in {(a['image_id'], a['category_id'])
                                          for a in dval['annotations']})
    assert min(val_imgs[c] for c in range(1, 7)) >= 5


def test_masks_match_rendering_exactly(tiny):
    out, paths = tiny
    cfg = g.PRESETS['tiny']
    for split in ('train', 'val'):
        d = _load(paths[f'det_{split}_ann'])
        by_img: dict[int, list] = {}
        for a in d['annotations']:
            by_img.setdefault(a['image_id'], []).append(a)
        plan = g.det_plan(cfg, 0, split)
        assert len(plan) == len(d['images'])
        for index, im in enumerate(d['images']):
            img, objs = g.render_det_image(cfg, 0, split, index, plan[index])
            anns = sorted(by_img[im['id']], key=lambda a: a['id'])
            assert [a['category_id'] for a in anns] == [c + 1 for c, _ in objs]
            for a, (_, mask) in zip(anns, objs):
                dec = mask_utils.decode(a['segmentation']).astype(bool)
                assert np.array_equal(dec, mask)
                assert a['area'] == dec.sum() == mask_utils.area(a['segmentation'])
                ys, xs = np.nonzero(dec)
                assert a['bbox'] == [xs.min(), ys.min(), xs.max() - xs.min() + 1,
                                     ys.max() - ys.min() + 1]
                assert np.allclose(mask_utils.toBbox(a['segmentation']), a['bbox'])
                assert dec.sum() >= cfg.min_visible_area
            # Paint happened exactly on the masks: the background alone (same stream, no
            # objects) is untouched outside them and changed inside each visible mask.
            bg, _ = g.render_det_image(cfg, 0, split, index, [])
            union = np.any([m for _, m in objs], axis=0)
            assert np.array_equal(img[~union], bg[~union])
            for _, m in objs:
                assert np.abs(img[m].astype(int) - bg[m]).mean() > 15
            # the JPEG on disk is the rendered image (up to compression)
            f = out / 'lvis_v1' / im['coco_url'].replace('http://images.cocodataset.org/', '')
            jpg = np.asarray(Image.open(f).convert('RGB'), np.float32)
            assert np.abs(jpg - img).mean() < 10  # vs ~45+ for a different image


def test_occlusion_rule(tiny):
    """Occlusion happens, visible masks never overlap, and each occluded object keeps >= 30 %.

    Rendering only a prefix of an image's classes reproduces the same placements (one stream), so
    the first object rendered alone gives its unoccluded mask."""
    cfg = g.PRESETS['tiny']
    occluded = 0
    for index, classes in enumerate(g.det_plan(cfg, 0, 'train')[:80]):
        _, objs = g.render_det_image(cfg, 0, 'train', index, classes)
        assert np.sum([m for _, m in objs], axis=0).max() <= 1
        if len(objs) < 2:
            continue
        _, alone = g.render_det_image(cfg, 0, 'train', index, classes[:1])
        full, vis = alone[0][1], objs[0][1]
        assert not (vis & ~full).any()
        assert vis.sum() >= max(cfg.min_visible_area, cfg.min_visible_frac * full.sum())
        occluded += vis.sum() < full.sum()
    assert occluded >= 5


def test_lvis_eval_gt_as_detections_gives_ap_one(tiny):
    from lvis import LVIS

    from ltr_plugins.lvis_eval import LVISEval  # lvis 0.5.3's, working on numpy 2
    _, paths = tiny
    gt = LVIS(paths['det_val_ann'])
    anns = _load(paths['det_val_ann'])['annotations']
    for iou_type in ('segm', 'bbox'):
        dets = [dict(image_id=a['image_id'], category_id=a['category_id'], score=1.0,
                     **({'segmentation': a['segmentation']} if iou_type == 'segm'
                        else {'bbox': a['bbox']})) for a in anns]
        ev = LVISEval(gt, dets, iou_type)
        ev.run()
        for k in ('AP', 'AP50', 'APr', 'APc', 'APf'):
            assert ev.results[k] == pytest.approx(1.0), (iou_type, k, ev.results[k])


def test_classification(tiny):
    out, paths = tiny
    root = Path(paths['cls_root'])
    classes = Path(paths['cls_classes']).read_text().splitlines()
    assert classes == [n for n, _ in g.PRESETS['tiny'].cls_classes]
    counts = {}
    for split in ('train', 'val', 'test'):
        c = Counter()
        for line in Path(paths[f'cls_{split}_ann']).read_text().splitlines():
            rel, label = line.split(' ')
            label = int(label)
            assert 0 <= label < len(classes)
            assert rel.split('/')[:2] == [split, classes[label]]
            with Image.open(root / rel) as im:
                assert im.size == (32, 32) and im.mode == 'RGB'
            c[label] += 1
        counts[split] = [c[i] for i in range(len(classes))]
    train = counts['train']
    assert train == sorted(train, reverse=True)  # long tail over class index
    assert any(n > 100 for n in train) and any(20 <= n <= 100 for n in train)
    assert any(n < 20 for n in train)
    assert counts['val'] == [5] * 6 and counts['test'] == [5] * 6
    assert _load(out / 'generator.json')['counts']['cls']['groups'] == \
        {'many': 2, 'medium': 2, 'few': 2}


@pytest.mark.parametrize('preset', sorted(g.PRESETS))
def test_presets_cover_all_groups(preset):
    """Planned per-class counts of every preset (cheap: no rendering)."""
    cfg = g.PRESETS[preset]
    train = Counter(c for im in g.det_plan(cfg, 0, 'train') for c in set(im))
    groups = Counter(g.lvis_frequency(train[c]) for c in range(sum(cfg.det_groups)))
    assert groups == dict(zip('fcr', cfg.det_groups))
    val = Counter(c for im in g.det_plan(cfg, 0, 'val') for c in set(im))
    assert min(val[c] for c in range(sum(cfg.det_groups))) >= 5
    t = g.long_tail_counts(cfg.cls_groups, g._cls_bands(cfg))
    assert (sum(n > 100 for n in t), sum(20 <= n <= 100 for n in t), sum(n < 20 for n in t)) \
        == cfg.cls_groups


def test_neg_fraction(tmp_path, monkeypatch):
    cfg = dataclasses.replace(g.PRESETS['tiny'], neg_fraction=0.5)
    monkeypatch.setitem(g.PRESETS, 'tiny_half_neg', cfg)
    paths = g.generate(tmp_path, 'tiny_half_neg', tasks=('det',))
    d = _load(paths['det_train_ann'])
    present: dict[int, set] = {}
    for a in d['annotations']:
        present.setdefault(a['image_id'], set()).add(a['category_id'])
    for im in d['images']:
        absent = set(range(1, 7)) - present[im['id']]
        assert set(im['neg_category_ids']) <= absent
        assert len(im['neg_category_ids']) == round(0.5 * len(absent))


def test_bad_input(tmp_path):
    with pytest.raises(ValueError, match='huge') as e:
        g.generate(tmp_path, preset='huge')
    assert 'tiny' in str(e.value)
    with pytest.raises(ValueError, match='segm') as e:
        g.generate(tmp_path, 'tiny', tasks=('det', 'segm'))
    assert 'cls' in str(e.value)
    assert not (tmp_path / 'generator.json').exists()


def test_cli_help_and_run(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        g.main(['--help'])
    assert e.value.code == 0
    text = capsys.readouterr().out
    for opt in ('--out', '--preset', '--seed', '--tasks', '--force'):
        assert opt in text
    assert g.main(['--preset', 'tiny', '--out', str(tmp_path), '--tasks', 'cls']) == 0
    printed = json.loads(capsys.readouterr().out)
    assert sorted(printed['paths']) == ['cls_classes', 'cls_open_ann', 'cls_root',
                                        'cls_test_ann', 'cls_texts', 'cls_train_ann',
                                        'cls_val_ann']
    assert not (tmp_path / 'lvis_v1').exists()


def test_class_text_corpora(tiny):
    """Each task's corpus covers its classes: 8 templates + 4 shape, 4 generic and 2
    misleading sentences per class, in a per-class shuffled order from its own RNG stream."""
    from ltr_plugins.core.vlltr import load_class_texts
    out, paths = tiny
    for key, classes in (('cls_texts', g.PRESETS['tiny'].cls_classes),
                         ('det_texts', g.PRESETS['tiny'].det_classes)):
        names = [n for n, _ in classes]
        corpora = load_class_texts(paths[key], names)
        assert len(corpora) == len(names)
        for name, sentences in zip(names, corpora):
            assert len(sentences) == len(g.TEXT_TEMPLATES) + 10
            assert sentences[0].startswith('a photo of a ')
            first, second = g.SHAPE_TEXT[name]
            desc = sentences[len(g.TEXT_TEMPLATES):]
            assert f'It looks like {first}.' in desc and f'Its outline is {second}.' in desc
            assert sum(s in g._NOISE_TEXT for s in desc) == 4
            wrong = [s for s in desc if s.startswith('Some say it resembles ')]
            assert len(wrong) == 2 and all(first not in s for s in wrong)
    # same corpus for the same classes and seed; another seed shuffles differently
    cls = g.PRESETS['tiny'].cls_classes
    assert g.class_text_corpus(cls, 0) == g.class_text_corpus(cls, 0)
    assert g.class_text_corpus(cls, 0) != g.class_text_corpus(cls, 1)


def test_framework_free():
    """The generator imports no deep-learning framework (checked in a clean process)."""
    code = ('import importlib.util, sys\n'
            f'spec = importlib.util.spec_from_file_location("gen", {str(GEN_FILE)!r})\n'
            'm = sys.modules["gen"] = importlib.util.module_from_spec(spec)\n'
            'spec.loader.exec_module(m)\n'
            'm._glyph("A")\n'
            'bad = [k for k in ("torch", "mmengine", "mmdet", "mmpretrain", "mmcv") '
            'if k in sys.modules]\n'
            'assert not bad, bad\n')
    subprocess.run([sys.executable, '-c', code], check=True)


def test_open_split_holds_unseen_classes_labelled_minus_one(tiny_data):
    """OLTR's open set: every line has label -1 and its class is none of the training classes;
    cls_test_per_class images for each of cls_open_classes glyph classes."""
    root = tiny_data / 'classification'
    cfg = g.PRESETS['tiny']
    train_classes = set((root / 'classes.txt').read_text().split())
    lines = [ln.split() for ln in (root / g.CLS_OPEN_ANN_FILE).read_text().splitlines()]
    assert {label for _, label in lines} == {'-1'}
    open_classes = {path.split('/')[1] for path, _ in lines}
    assert open_classes == set((root / 'open_classes.txt').read_text().split())
    assert len(open_classes) == cfg.cls_open_classes and not open_classes & train_classes
    assert len(lines) == cfg.cls_open_classes * cfg.cls_test_per_class
    assert all((root / path).is_file() for path, _ in lines)


def test_calls_on_one_folder_take_turns(tmp_path, monkeypatch):
    """Two calls that start generating into the same fresh folder at once (two test workers'
    fixtures, two command-line calls, the ranks of an embedded_data training) take turns:
    without the lock each would delete the other's half-written files. The second finds the
    first one's data made and writes nothing (the task generators are stand-ins that record
    how many run at once)."""
    inside, most, calls, guard = [0], [0], [], threading.Lock()

    def stand_in(cfg, seed, root):
        with guard:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        Path(root).mkdir(parents=True)
        for name in ('annotations/lvis_v1_train.json', 'annotations/lvis_v1_val.json',
                     'class_texts.json'):
            (Path(root) / name).parent.mkdir(exist_ok=True)
            (Path(root) / name).write_text('{}')
        time.sleep(0.3)  # long enough for the other call to arrive while this one writes
        calls.append(root)
        with guard:
            inside[0] -= 1
        return {}

    monkeypatch.setattr(g, '_generate_det', stand_in)
    errors = []

    def call():
        try:
            g.generate(tmp_path / 'data', 'tiny', tasks=('det',))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=call) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and most[0] == 1
    assert len(calls) == 1 and (tmp_path / 'data' / 'generator.json').is_file()
