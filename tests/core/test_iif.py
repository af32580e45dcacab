"""IIF weights and logit adjustment against hand-computed formulas and the LVIS v1 facts."""
import io
import math
from statistics import NormalDist

import pytest
import torch
from ltr_testing import REPO

from ltr_plugins.core import IIF_VARIANTS, IIFLogitAdjustment, iif_weights, iif_weights_from_stats
from ltr_plugins.datasets import ClassStats

COUNTS = [1, 7, 30, 45]
N = 100

# independent scalar formulas (math / statistics only)
FORMULAS = {
    'raw': lambda n, N: math.log(N / n),
    'smooth': lambda n, N: math.log((N + 1) / (n + 1)) + 1,
    'rel': lambda n, N: math.log((N - n) / n),
    'prob': lambda n, N: math.log((N - n) / n),
    'normit': lambda n, N: -NormalDist().inv_cdf(n / N),
    'gombit': lambda n, N: -math.log(-math.log(1 - n / N)),
    'base2': lambda n, N: math.log(N / n, 2),
    'base10': lambda n, N: math.log10(N / n),
}


def test_variant_names():
    assert set(IIF_VARIANTS) == set(FORMULAS) | {v + '_obj' for v in FORMULAS}


@pytest.mark.parametrize('variant', sorted(FORMULAS))
def test_each_variant_matches_formula(variant):
    w = iif_weights(COUNTS, N, variant)
    assert w.dtype == torch.float32 and w.shape == (4,)
    expected = [FORMULAS[variant](n, N) for n in COUNTS]
    assert w.tolist() == pytest.approx(expected, rel=1e-6)
    # the _obj suffix is the same formula; only the counts the caller passes differ
    assert iif_weights(COUNTS, N, variant + '_obj').tolist() == pytest.approx(expected, rel=1e-6)


def _stats():
    # 3 classes, 10 images; instance counts differ from image counts
    return ClassStats(('a', 'b', 'c'), [1, 2, 5], [3, 2, 15], 10)


def test_from_stats_picks_image_or_instance_counts():
    stats = _stats()
    img = iif_weights_from_stats(stats, 'raw')
    obj = iif_weights_from_stats(stats, 'raw_obj')
    assert img.tolist() == pytest.approx([math.log(10 / n) for n in (1, 2, 5)], rel=1e-6)
    assert obj.tolist() == pytest.approx([math.log(20 / n) for n in (3, 2, 15)], rel=1e-6)


def test_lvis_v1_weight_ranges():
    stats = ClassStats.from_lvis_v1_table()
    for variant, (lo, hi) in {'raw': (3.93, 11.51), 'smooth': (4.92, 11.82),
                              'base10': (1.70, 5.00)}.items():
        w = iif_weights_from_stats(stats, variant)
        assert round(w.min().item(), 2) == lo, variant
        assert round(w.max().item(), 2) == hi, variant
    # the max is the rarest class: a single image out of 100,170
    assert iif_weights_from_stats(stats, 'raw').max().item() == pytest.approx(
        math.log(100_170), rel=1e-6)


def test_zero_count_names_the_class_and_suggests_smooth():
    for variant in ('raw', 'rel', 'prob', 'normit', 'gombit', 'base2', 'base10', 'raw_obj'):
        with pytest.raises(ValueError, match=r"'bike'.*'smooth'"):
            iif_weights([3, 0], 10, variant, class_names=['car', 'bike'])
    with pytest.raises(ValueError, match='index 1'):
        iif_weights([3, 0], 10, 'raw')
    w = iif_weights([3, 0], 10, 'smooth')
    assert w.tolist() == pytest.approx([math.log(11 / 4) + 1, math.log(11) + 1], rel=1e-6)


def test_negative_weight_warns_and_clamps():
    counts, names = [6, 2], ['person', 'cat']  # person in 6 of 10 images (> half)
    for variant in ('rel', 'normit'):
        with pytest.warns(UserWarning, match="negative weights .*'person'") as rec:
            w = iif_weights(counts, 10, variant, class_names=names)
        assert "'cat'" not in str(rec[0].message)
        assert w[0] < 0 and w[1] > 0
        assert w[0].item() == pytest.approx(FORMULAS[variant](6, 10), rel=1e-6)
        with pytest.warns(UserWarning, match='clamped to 0'):
            wc = iif_weights(counts, 10, variant, clamp_negative=True, class_names=names)
        assert wc[0].item() == 0.0 and wc[1].item() == pytest.approx(w[1].item())


def test_no_warning_when_all_positive(recwarn):
    iif_weights([1, 4], 10, 'rel')
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]


def test_unknown_variant_lists_valid_ones():
    with pytest.raises(ValueError, match=r"unknown IIF variant 'log'.*raw, smooth.*base10_obj"):
        iif_weights([1, 2], 10, 'log')
    with pytest.raises(ValueError, match='unknown IIF variant'):
        iif_weights_from_stats(_stats(), 'nope')


def test_bad_counts():
    with pytest.raises(ValueError, match=r"exceeds num_total=10 .*'b'"):
        iif_weights([1, 11], 10, class_names=['a', 'b'])
    with pytest.raises(ValueError, match='non-negative integers'):
        iif_weights([1, -1], 10)
    with pytest.raises(ValueError, match='-inf'):
        iif_weights([10, 1], 10, 'rel')
    with pytest.raises(ValueError, match='positive'):
        iif_weights([1], 0)


@pytest.mark.parametrize('p', [1, 2, 3.5])
def test_p_norm_gives_unit_norm(p):
    raw = iif_weights(COUNTS, N, 'raw')
    w = iif_weights(COUNTS, N, 'raw', p_norm=p)
    assert sum(abs(v) ** p for v in w.tolist()) ** (1 / p) == pytest.approx(1.0, rel=1e-6)
    # normalisation only rescales
    assert (w / raw).tolist() == pytest.approx([(w / raw)[0].item()] * 4, rel=1e-6)


def test_logit_adjustment_multiplies_and_checks_shape():
    w = torch.tensor([2.0, 0.5, 3.0])
    adj = IIFLogitAdjustment(w)
    logits = torch.randn(5, 3)
    torch.testing.assert_close(adj(logits), logits * w)
    with pytest.raises(ValueError, match=r'3 weights .*last dim 4'):
        adj(torch.randn(5, 4))
    assert adj(logits.half()).dtype == torch.float16


def test_logit_adjustment_background_keeps_weight_one():
    adj = IIFLogitAdjustment.from_stats(_stats(), 'raw', background=True)
    assert adj.weights.shape == (4,) and adj.num_classes == 3
    assert adj.weights[-1].item() == 1.0
    assert adj.weights[:3].tolist() == pytest.approx([math.log(10 / n) for n in (1, 2, 5)])
    logits = torch.randn(2, 4)
    out = adj(logits)
    assert torch.equal(out[:, -1], logits[:, -1])
    with pytest.raises(ValueError, match=r'K classes \+ 1 background'):
        adj(torch.randn(2, 3))
    assert 'variant=raw' in repr(adj) and 'num_classes=3' in repr(adj)


def test_logit_adjustment_buffer_travels_with_state_dict():
    adj = IIFLogitAdjustment.from_stats(_stats(), 'smooth_obj', background=True)
    sd = adj.state_dict()
    assert 'weights' in sd
    buf = io.BytesIO()
    torch.save(sd, buf)
    buf.seek(0)
    fresh = IIFLogitAdjustment(torch.ones(3), background=True)
    assert not torch.equal(fresh.weights, adj.weights)
    fresh.load_state_dict(torch.load(buf, weights_only=True))
    assert torch.equal(fresh.weights, adj.weights)
    # also a submodule's buffer shows up in the parent's state_dict (mmengine checkpoints)
    parent = torch.nn.Sequential(torch.nn.Linear(2, 4), adj)
    assert '1.weights' in parent.state_dict()


def test_column_subset_uses_those_columns_weights_and_optional_iif_helper():
    from ltr_plugins.core import adjust_logits
    adj = IIFLogitAdjustment(torch.tensor([2.0, 0.5, 3.0]), background=True)
    sub = torch.randn(4, 2)
    columns = torch.tensor([1, 3])  # class 1 and the background column
    torch.testing.assert_close(adj(sub, columns), sub * torch.tensor([0.5, 1.0]))
    logits = torch.randn(4, 4)
    assert adjust_logits(None, logits) is logits  # no IIF configured: unchanged
    torch.testing.assert_close(adjust_logits(adj, logits), adj(logits))
    torch.testing.assert_close(adjust_logits(adj, sub, columns), adj(sub, columns))


def test_build_iif_takes_counts_not_sources():
    from ltr_plugins.core import build_iif
    adj = build_iif(3, _stats(), 'raw', background=True)
    assert adj.weights.tolist() == pytest.approx([math.log(10 / n) for n in (1, 2, 5)] + [1.0])
    with pytest.raises(ValueError, match='3 classes but the head has num_classes=4'):
        build_iif(4, _stats())
    with pytest.raises(TypeError, match='ClassStats.load'):
        build_iif(1203, 'lvis_v1')  # a table name is resolved by the adapters, not the core


def test_core_never_imports_the_datasets_package():
    """core -> datasets -> core was a cycle: the core takes counts; the adapters resolve."""
    import re
    core = REPO / 'ltr_plugins' / 'core'
    assert core.is_dir(), core
    pattern = re.compile(r'^\s*(from|import)\s+(ltr_plugins\.datasets|\.\.+datasets)', re.M)
    offenders = [str(p) for p in core.rglob('*.py') if pattern.search(p.read_text())]
    assert not offenders, offenders
