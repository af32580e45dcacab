"""ClassStats csv round trip, packaged tables and tools/analysis/class_stats.py."""
import csv
import json
import math
import subprocess
import sys

import numpy as np
import pytest
from ltr_testing import REPO, run_tool

from ltr_plugins.datasets import LVIS_V1_TRAIN_IMAGES, ClassStats


def _read_rows(path):
    """Rows of a stats csv, skipping '#' comment lines (independent of ClassStats.from_csv)."""
    with open(path) as f:
        lines = [ln for ln in f if not ln.startswith('#')]
    return list(csv.DictReader(lines))


def _stats():
    return ClassStats(('cat', 'dog, big', 'eel'), [3, 1, 0], [5, 1, 0], 4, 'mem')


def test_csv_round_trip(tmp_path):
    stats = _stats()
    path = tmp_path / 'sub' / 'stats.csv'
    stats.to_csv(path, {'iif_raw': np.array([0.28768207245178, 1.3862943611, 0.0]),
                        'shot': ['few', 'few', 'few']})
    text = path.read_text()
    assert text.splitlines()[0] == '# num_images=4'
    assert text.splitlines()[1] == ('id,name,frequency,image_count,instance_count,'
                                    'iif_raw,shot')
    rows = _read_rows(path)
    assert [r['id'] for r in rows] == ['1', '2', '3']  # 1-based label index
    assert rows[1]['name'] == 'dog, big' and rows[0]['frequency'] == 'r'
    assert float(rows[1]['iif_raw']) == pytest.approx(1.3862943611, rel=1e-9)
    back = ClassStats.from_csv(path)
    assert back.classes == stats.classes and back.num_images == 4
    np.testing.assert_array_equal(back.image_counts, stats.image_counts)
    np.testing.assert_array_equal(back.instance_counts, stats.instance_counts)
    assert not [p for p in path.parent.iterdir() if p.name != 'stats.csv']  # no temp left


def test_csv_num_images_argument(tmp_path):
    path = tmp_path / 's.csv'
    path.write_text('id,name,frequency,image_count,instance_count\n1,a,r,2,3\n2,b,r,1,1\n')
    with pytest.raises(ValueError, match=r's.csv: no "# num_images=N" line; pass num_images'):
        ClassStats.from_csv(path)
    assert ClassStats.from_csv(path, num_images=7).num_images == 7
    _stats().to_csv(path)
    with pytest.raises(ValueError, match='num_images=9 given but the file says num_images=4'):
        ClassStats.from_csv(path, num_images=9)
    assert ClassStats.from_csv(path, num_images=4).num_images == 4


def test_csv_rows_sorted_by_id(tmp_path):
    path = tmp_path / 's.csv'
    path.write_text('# num_images=5\nid,name,image_count,instance_count\n'
                    '9,z,1,1\n3,a,2,2\n')
    stats = ClassStats.from_csv(path)
    assert stats.classes == ('a', 'z')
    np.testing.assert_array_equal(stats.image_counts, [2, 1])


@pytest.mark.parametrize('body, match', [
    ('id,name,frequency,instance_count\n1,a,r,3\n', r':2: missing column\(s\) image_count'),
    ('id,name,frequency,image_count,instance_count\n1,a,r,2,3\n2,b,r,x1,3\n',
     r":4: field 'image_count' must be an integer, got 'x1'"),
    ('id,name,frequency,image_count,instance_count\n1,a,r,2,3\n2,a,r,1,1\n',
     r":4: field name: duplicate class name 'a' \(first on line 3\)"),
    ('id,name,frequency,image_count,instance_count\n1,a,r,2,3\n1,b,r,1,1\n',
     r":4: field 'id': duplicate value 1"),
    ('id,name,frequency,image_count,instance_count\n1,a,f,2,3\n',
     r":3: field frequency='f' does not match image_count=2"),
    ('id,name,frequency,image_count,instance_count\n1,a,r,2,1\n',
     r':3: field instance_count=1 is below image_count=2'),
    ('id,name,frequency,image_count,instance_count\n1,a,c,20,30\n',
     r':3: field image_count=20 exceeds num_images=10'),
    ('id,name,frequency,image_count,instance_count\n1,a,r,-2,3\n',
     r":3: field 'image_count' is negative"),
    ('id,name,frequency,image_count,instance_count\n1,a,r,2\n', r':3: 4 fields, header has 5'),
])
def test_bad_csv_names_file_line_and_field(tmp_path, body, match):
    path = tmp_path / 'bad.csv'
    path.write_text('# num_images=10\n' + body)
    with pytest.raises(ValueError, match='bad.csv' + match):
        ClassStats.from_csv(path)


def test_counts_layout(tmp_path):
    path = tmp_path / 'c.csv'
    path.write_text('class_index,count\n1,5\n0,7\n')
    stats = ClassStats.from_csv(path)
    assert stats.classes == ('0', '1') and stats.num_images == 12
    np.testing.assert_array_equal(stats.image_counts, [7, 5])
    path.write_text('class_index,count\n0,5\n2,7\n')
    with pytest.raises(ValueError, match='class_index must be 0..1'):
        ClassStats.from_csv(path)


def test_packaged_lvis_v1_table():
    stats = ClassStats.from_lvis_v1_table()
    assert stats.num_classes == 1203 and stats.num_images == LVIS_V1_TRAIN_IMAGES == 100_170
    freq = list(stats.lvis_frequency())
    assert (freq.count('r'), freq.count('c'), freq.count('f')) == (337, 461, 405)
    assert int(stats.image_counts.sum()) == 360_952
    assert stats.num_instances == 1_270_141
    # spot checks: label order = category id order
    for i, name, img, inst in ((0, 'aerosol_can', 64, 109), (2, 'airplane', 1911, 3720),
                               (1202, 'zucchini', 81, 798)):
        assert (stats.classes[i], stats.image_counts[i], stats.instance_counts[i]) == \
            (name, img, inst)


def test_packaged_other_tables():
    v05 = ClassStats.from_lvis_v05_table()
    freq = list(v05.lvis_frequency())
    assert (freq.count('r'), freq.count('c'), freq.count('f')) == (454, 461, 315)
    assert v05.num_instances == 693_958 and v05.num_images == 57_263
    # many / medium / few: inclusive (default, >= 100 / <= 20) and exclusive (> 100 / < 20)
    for stats, k, total, mx, groups, groups_exclusive in (
            (ClassStats.from_imagenet_lt_table(), 1000, 115_846, 1280, (391, 463, 146),
             (385, 479, 136)),
            (ClassStats.from_places_lt_table(), 365, 62_500, 4980, (132, 156, 77),
             (131, 163, 71))):
        assert stats.num_classes == k and stats.num_images == total
        assert int(stats.image_counts.max()) == mx and int(stats.image_counts.min()) == 5
        g = list(stats.groups())
        assert (g.count('many'), g.count('medium'), g.count('few')) == groups
        g = list(stats.groups(rule='exclusive'))
        assert (g.count('many'), g.count('medium'), g.count('few')) == groups_exclusive
        assert stats.classes[:3] == ('0', '1', '2')


def _small_lvis(tmp_path):
    data = {
        'images': [{'id': i} for i in range(1, 6)],
        'annotations': [
            {'id': 1, 'image_id': 1, 'category_id': 2},
            {'id': 2, 'image_id': 1, 'category_id': 2},
            {'id': 3, 'image_id': 2, 'category_id': 2},
            {'id': 4, 'image_id': 3, 'category_id': 1},
            {'id': 5, 'image_id': 4, 'category_id': 2},
        ],
        'categories': [{'id': 1, 'name': 'rare_thing'}, {'id': 2, 'name': 'common_thing'},
                       {'id': 3, 'name': 'absent'}],
    }
    path = tmp_path / 'train.json'
    path.write_text(json.dumps(data))
    return path


def test_tool_on_small_lvis_json(tmp_path):
    out = tmp_path / 'stats.csv'
    proc = run_tool(['tools/analysis/class_stats.py', _small_lvis(tmp_path), '--out', out])
    assert 'K=3' in proc.stdout and 'N=5' in proc.stdout
    rows = _read_rows(out)
    assert out.read_text().startswith('# num_images=5\n')
    assert [r['name'] for r in rows] == ['rare_thing', 'common_thing', 'absent']
    assert [r['image_count'] for r in rows] == ['1', '3', '0']
    assert [r['instance_count'] for r in rows] == ['1', '4', '0']
    assert [r['shot'] for r in rows] == ['few'] * 3
    assert [r['frequency'] for r in rows] == ['r'] * 3
    # 'absent' has no image: raw is undefined and skipped, smooth is written
    assert 'iif_raw' not in rows[0] and 'skipping variant raw' in proc.stderr
    assert float(rows[2]['iif_smooth']) == pytest.approx(math.log(6) + 1, rel=1e-6)
    assert float(rows[1]['iif_smooth_obj']) == pytest.approx(math.log(6 / 5) + 1, rel=1e-6)
    # an explicitly requested undefined variant is an error
    proc = subprocess.run([sys.executable, 'tools/analysis/class_stats.py',
                           str(_small_lvis(tmp_path)), '--variants', 'smooth', 'raw'],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and "'absent'" in proc.stderr


def test_tool_on_packaged_lvis_v1(tmp_path):
    out, png = tmp_path / 'lvis.csv', tmp_path / 'hist.png'
    proc = run_tool(['tools/analysis/class_stats.py', 'lvis_v1', '--out', out, '--plot', png])
    assert 'r/c/f = 337/461/405' in proc.stdout
    assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n' and f'wrote {png}' in proc.stdout
    rows = _read_rows(out)
    assert len(rows) == 1203
    expected_cols = {'id', 'name', 'frequency', 'image_count', 'instance_count', 'shot'}
    expected_cols |= {f'iif_{v}{s}' for v in ('raw', 'smooth', 'rel', 'normit', 'gombit',
                                              'base2', 'base10') for s in ('', '_obj')}
    assert set(rows[0]) == expected_cols
    for r in rows[:50]:
        n, m = int(r['image_count']), int(r['instance_count'])
        assert float(r['iif_raw']) == pytest.approx(math.log(100_170 / n), rel=1e-6)
        assert float(r['iif_base10_obj']) == pytest.approx(math.log10(1_270_141 / m), rel=1e-6)
        assert r['shot'] == ('many' if n >= 100 else 'medium' if n > 20 else 'few')
    # the written file reads back into the same statistics
    back = ClassStats.from_csv(out)
    assert back.num_images == 100_170 and back.num_instances == 1_270_141


def test_tool_on_mmpretrain_list(tmp_path):
    ann = tmp_path / 'train.txt'
    ann.write_text('a.png 0\nb.png 0\nc.png 1\nd.png 0\n')
    classes = tmp_path / 'classes.txt'
    classes.write_text('x\ny\n')
    out = tmp_path / 's.csv'
    run_tool(['tools/analysis/class_stats.py', ann, '--classes', classes, '--out', out,
              '--variants', 'rel', 'normit', '--clamp-negative'])
    rows = _read_rows(out)
    assert [r['name'] for r in rows] == ['x', 'y']
    assert float(rows[0]['iif_rel']) == 0.0   # x is in 3 of 4 images: clamped
    assert float(rows[1]['iif_rel']) == pytest.approx(math.log(3), rel=1e-6)
