import json

import numpy as np
import pytest

from ltr_plugins.datasets import ClassStats


def _lvis_json(tmp_path, cats=None):
    data = {
        'images': [{'id': i} for i in (1, 2, 3)],
        'annotations': [
            {'id': 1, 'image_id': 1, 'category_id': 7},
            {'id': 2, 'image_id': 1, 'category_id': 7},   # 2nd instance, same image
            {'id': 3, 'image_id': 2, 'category_id': 7},
            {'id': 4, 'image_id': 3, 'category_id': 3},
        ],
        'categories': cats or [
            {'id': 7, 'name': 'b', 'image_count': 2, 'instance_count': 3},
            {'id': 3, 'name': 'a', 'image_count': 1, 'instance_count': 1},
            {'id': 9, 'name': 'c', 'image_count': 0, 'instance_count': 0},
        ],
    }
    path = tmp_path / 'ann.json'
    path.write_text(json.dumps(data))
    return path


def test_from_lvis_json_counts_images_and_instances(tmp_path):
    stats = ClassStats.from_lvis_json(_lvis_json(tmp_path))
    assert stats.classes == ('a', 'b', 'c')  # ascending category id = mmdet label order
    np.testing.assert_array_equal(stats.image_counts, [1, 2, 0])
    np.testing.assert_array_equal(stats.instance_counts, [1, 3, 0])
    assert stats.num_images == 3 and stats.num_instances == 4


def test_from_lvis_json_mismatch_names_the_category(tmp_path):
    cats = [{'id': 7, 'name': 'b', 'image_count': 5, 'instance_count': 3},
            {'id': 3, 'name': 'a', 'image_count': 1, 'instance_count': 1}]
    path = _lvis_json(tmp_path, cats)
    with pytest.raises(ValueError, match=r"'b' \(id 7\) has image_count=5 but .* give 2"):
        ClassStats.from_lvis_json(path)
    with pytest.warns(UserWarning, match="'b'"):
        stats = ClassStats.from_lvis_json(path, on_mismatch='warn')
    np.testing.assert_array_equal(stats.image_counts, [1, 2])


def test_from_lvis_json_bad_inputs(tmp_path):
    bad = tmp_path / 'bad.json'
    bad.write_text('{"images": [')
    with pytest.raises(ValueError, match='bad.json: not valid json'):
        ClassStats.from_lvis_json(bad)
    bad.write_text('{"images": [], "categories": []}')
    with pytest.raises(ValueError, match="missing top-level field 'annotations'"):
        ClassStats.from_lvis_json(bad)


def test_groups_follow_thresholds():
    stats = ClassStats.from_counts([101, 100, 20, 19, 1, 10, 11])
    # default: the OLTR / VL-LTR evaluation code's rule, many >= 100, few <= 20
    assert list(stats.groups()) == ['many', 'many', 'few', 'few', 'few', 'few', 'few']
    assert list(stats.groups(rule='exclusive')) == ['many', 'medium', 'medium', 'few', 'few',
                                                    'few', 'few']
    assert list(stats.lvis_frequency()) == ['f', 'c', 'c', 'c', 'r', 'r', 'c']
    idx = stats.group_indices(rule='exclusive')
    np.testing.assert_array_equal(idx['many'], [0])
    np.testing.assert_array_equal(idx['few'], [3, 4, 5, 6])
    idx = stats.group_indices()
    np.testing.assert_array_equal(idx['many'], [0, 1])
    assert len(idx['medium']) == 0


def test_from_mmpretrain_ann(tmp_path):
    ann = tmp_path / 'train.txt'
    ann.write_text('a/1.png 0\na/2.png 0\nc/3.png 2\n\n')
    classes = tmp_path / 'classes.txt'
    classes.write_text('x\ny\nz\n')
    stats = ClassStats.from_mmpretrain_ann(ann, classes)
    assert stats.classes == ('x', 'y', 'z')
    np.testing.assert_array_equal(stats.image_counts, [2, 0, 1])
    assert stats.num_images == 3
    ann.write_text('a/1.png 0\nc/3.png 3\n')
    with pytest.raises(ValueError, match=r'label 3 outside \[0, 3\)'):
        ClassStats.from_mmpretrain_ann(ann, classes)
    ann.write_text('a/1.png zero\n')
    with pytest.raises(ValueError, match=r'train.txt:1: expected'):
        ClassStats.from_mmpretrain_ann(ann)


def test_build_iif_from_config_resolves_the_stats_source(tmp_path):
    import math

    import torch

    from ltr_plugins.datasets import build_iif_from_config
    assert build_iif_from_config(3, None) is None and build_iif_from_config(3, {}) is None
    ann = _lvis_json(tmp_path)  # image counts b: 2, a: 1, c: 0 of 3 images; id order a, b, c
    adj = build_iif_from_config(3, dict(stats=str(ann), variant='smooth'), background=True)
    expected = [math.log(4 / (n + 1)) + 1 for n in (1, 2, 0)] + [1.0]
    assert adj.weights.tolist() == pytest.approx(expected)
    stats = ClassStats.from_lvis_json(ann)  # an already loaded ClassStats is taken as it is
    assert torch.equal(build_iif_from_config(3, dict(stats=stats, variant='smooth')).weights,
                       adj.weights[:3])
    with pytest.raises(ValueError, match='missing "stats"'):
        build_iif_from_config(3, dict(variant='raw'))
    with pytest.raises(ValueError, match='missing "stats"'):
        build_iif_from_config(3, {}, required=True)  # an IIF head without its statistics
    with pytest.raises(ValueError, match='3 classes but the head has num_classes=5'):
        build_iif_from_config(5, dict(stats=str(ann), variant='smooth'))
