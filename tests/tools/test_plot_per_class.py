"""tools/analysis/plot_per_class.py (ltr_plugins.tools.plot_per_class) on hand-made csv files."""

import numpy as np
import pytest


@pytest.fixture(scope='module')
def tool():
    from ltr_plugins.tools import plot_per_class
    return plot_per_class


def _write_run(root, accs):
    (root / 'test').mkdir(parents=True)
    lines = ['class,name,train_images,split,test_samples,accuracy']
    for k, (n, acc) in enumerate(zip([500, 200, 50, 30, 5, 2], accs)):
        lines.append(f'{k},c{k},{n},x,10,{acc}')
    (root / 'test' / 'per_class_accuracy.csv').write_text('\n'.join(lines) + '\n')
    (root / 'test' / 'predictions.csv').write_text(
        'label,prediction,confidence\n0,0,0.9\n1,1,0.8\n2,0,0.7\n3,3,0.2\n')
    return root


def test_binned_mean_and_reading(tool, tmp_path):
    run = _write_run(tmp_path / 'a', [90, 80, 50, '', 10, 0])
    counts, scores, name = tool.read_per_class(tool.find_csv(str(run)))
    assert counts.tolist() == [500, 200, 50, 5, 2] and scores.tolist() == [90, 80, 50, 10, 0]
    assert name.startswith('top-1')
    centers, means = tool.binned_mean(np.array([1., 1., 100., 100.]), np.array([0., 2., 5., 7.]),
                                      num_bins=2)
    assert means.tolist() == [1.0, 6.0] and centers[0] < 10 < centers[1]
    ap = tmp_path / 'per_category_ap_segm.csv'
    ap.write_text('category_id,name,frequency,train_images,AP\n1,a,f,300,0.5\n2,b,r,3,\n')
    counts, scores, name = tool.read_per_class(str(ap))
    assert counts.tolist() == [300] and scores.tolist() == [50.0] and name == 'AP (%)'


def test_writes_pngs_and_rejects_bad_input(tool, tmp_path):
    a = _write_run(tmp_path / 'a', [90, 80, 50, 40, 10, 0])
    b = _write_run(tmp_path / 'b', [85, 80, 60, 50, 30, 20])
    out, cal = tmp_path / 'f.png', tmp_path / 'c.png'
    tool.main([str(a), str(b), '--labels', 'CE', 'IIF', '--out', str(out),
               '--calibration', str(cal)])
    for png in (out, cal):
        assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    with pytest.raises(FileNotFoundError, match='run tools/test.py first'):
        tool.find_csv(str(tmp_path / 'missing'))
    bad = tmp_path / 'bad.csv'
    bad.write_text('x,y\n1,2\n')
    with pytest.raises(ValueError, match='expected columns'):
        tool.read_per_class(str(bad))
    with pytest.raises(SystemExit):
        tool.main([str(a), '--labels', 'x', 'y'])
