"""VL-LTR core: losses, AnSS, the LGR classifier, the anchor file and the text encoders, checked
against independently written formulas (loops, plain tensor algebra)."""
import json
import math
import os
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from ltr_testing import run_gloo

from ltr_plugins.core import text_encoders as te
from ltr_plugins.core import vlltr as V


# ----------------------------------------------------------------------------- stage 1
def test_classwise_targets_with_repeated_classes():
    rows = torch.tensor([0, 1, 0, 2])
    cols = torch.tensor([0, 0, 1, 2, 0])
    eps = 0.1
    t = V.classwise_targets(rows, cols, eps)
    # written out by hand: class 0 has columns 0, 1, 4; class 1 column 2; class 2 column 3
    third, u = (1 - eps) / 3, eps / 5
    expected = torch.tensor([[third + u, third + u, u, u, third + u],
                             [u, u, 1 - eps + u, u, u],
                             [third + u, third + u, u, u, third + u],
                             [u, u, u, 1 - eps + u, u]])
    torch.testing.assert_close(t, expected)
    torch.testing.assert_close(t.sum(1), torch.ones(4))
    with pytest.raises(ValueError, match='no column of its class'):
        V.classwise_targets(torch.tensor([3]), cols)


def _loop_soft_ce(logits, target):
    total = 0.0
    for i in range(logits.shape[0]):
        lse = math.log(sum(math.exp(v) for v in logits[i].tolist()))
        total += -sum(t * (v - lse) for t, v in zip(target[i].tolist(), logits[i].tolist()))
    return total / logits.shape[0]


def test_classwise_contrastive_loss_matches_loop():
    torch.manual_seed(0)
    img, txt = torch.randn(6, 5), torch.randn(6, 5)
    labels = torch.tensor([0, 1, 0, 0, 2, 1])
    scale = torch.tensor(math.log(10.0))
    logits = V.contrastive_logits(img, txt, scale)
    cos = torch.tensor([[float(F.cosine_similarity(a, b, dim=0)) for b in txt] for a in img])
    torch.testing.assert_close(logits, 10 * cos)
    eps = 0.1
    pos = (labels[:, None] == labels[None, :]).float()
    target = (1 - eps) * pos / pos.sum(1, keepdim=True) + eps / 6  # symmetric labels
    expected = (_loop_soft_ce(logits, target) + _loop_soft_ce(logits.t(), target)) / 2
    got = V.classwise_contrastive_loss(logits, labels, labels, eps)
    assert got.item() == pytest.approx(expected, rel=1e-5)


def test_distillation_is_zero_gradient_at_the_teacher():
    torch.manual_seed(0)
    teacher = torch.randn(4, 4)
    student = teacher.clone().requires_grad_(True)
    loss = V.contrastive_distillation_loss(student, teacher)
    loss.backward()
    assert student.grad.abs().max() < 1e-6  # soft CE is minimal where student == teacher
    # and equals the CE towards the teacher's softmax, both directions
    p, pt = teacher.softmax(1), teacher.t().softmax(1)
    expected = (_loop_soft_ce(teacher, p) + _loop_soft_ce(teacher.t(), pt)) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_pretrain_losses_weighting():
    torch.manual_seed(1)
    img, txt = torch.randn(4, 3), torch.randn(4, 3)
    t_img, t_txt = torch.randn(4, 3), torch.randn(4, 3)
    labels = torch.tensor([0, 0, 1, 2])
    scale = torch.tensor(2.0)
    out = V.vlltr_pretrain_losses(img, txt, labels, scale, t_img, t_txt, scale, beta=0.3,
                                  smoothing=0.1)
    logits = V.contrastive_logits(img, txt, scale)
    lin = V.classwise_contrastive_loss(logits, labels, labels, 0.1)
    dis = V.contrastive_distillation_loss(logits, V.contrastive_logits(t_img, t_txt, scale))
    torch.testing.assert_close(out['loss_lin'], 0.7 * lin)
    torch.testing.assert_close(out['loss_dis'], 0.3 * dis)
    assert 'loss_dis' not in V.vlltr_pretrain_losses(img, txt, labels, scale, beta=0.0)
    with pytest.raises(ValueError, match='teacher'):
        V.vlltr_pretrain_losses(img, txt, labels, scale, beta=0.5)


def _ddp_worker(rank):
    torch.manual_seed(0)
    img, txt = torch.randn(6, 4), torch.randn(6, 4)
    labels = torch.tensor([0, 1, 0, 2, 1, 1])
    sl = slice(3 * rank, 3 * rank + 3)
    x = img[sl].clone().requires_grad_(True)
    losses = V.vlltr_pretrain_losses(x, txt[sl], labels[sl], torch.tensor(1.0),
                                     img[sl], txt[sl].flip(1), torch.tensor(1.0), beta=0.5)
    sum(losses.values()).backward()
    return (float(sum(losses.values())), x.grad)


def test_pretrain_losses_two_process_gloo_equal_global_batch():
    """Two ranks with 3 pairs each give the loss of the 6-pair batch, and each rank's gradient
    is world_size x its slice of the global gradient (DDP then averages over ranks)."""
    results = run_gloo(_ddp_worker)
    torch.manual_seed(0)
    img, txt = torch.randn(6, 4), torch.randn(6, 4)
    labels = torch.tensor([0, 1, 0, 2, 1, 1])
    x = img.clone().requires_grad_(True)
    ref = V.vlltr_pretrain_losses(x, txt, labels, torch.tensor(1.0), img, txt.flip(1),
                                  torch.tensor(1.0), beta=0.5)
    sum(ref.values()).backward()
    for rank in range(2):
        loss, grad = results[rank]
        assert loss == pytest.approx(float(sum(ref.values()).detach()), rel=1e-5)
        torch.testing.assert_close(grad, 2 * x.grad[3 * rank:3 * rank + 3])


# ----------------------------------------------------------------------------- AnSS
def test_anss_scores_match_formula_and_pick_lowest_loss():
    # images: class 0 along e0, class 1 along e1 (2 images each)
    images = torch.tensor([[1., 0.1, 0.], [1., -0.1, 0.], [0., 1., 0.1], [0.1, 1., 0.]])
    image_labels = torch.tensor([0, 0, 1, 1])
    # class-0 sentences: 0 on e0 (good), 1 orthogonal (useless), 2 on e1 (misleading);
    # class-1 sentences: 3 on e1 (good), 4 between (so-so)
    texts = torch.tensor([[2., 0., 0.], [0., 0., 1.], [0., 3., 0.], [0., 1., 0.], [1., 1., 0.]])
    text_labels = torch.tensor([0, 0, 0, 1, 1])
    scale = math.log(5.0)
    scores = V.anchor_sentence_scores(texts, text_labels, images, image_labels, scale,
                                      chunk_size=2)
    for s in range(5):
        logits = [5 * float(F.cosine_similarity(texts[s], f, dim=0)) for f in images]
        lse = math.log(sum(math.exp(v) for v in logits))
        own = [i for i in range(4) if image_labels[i] == text_labels[s]]
        expected = -sum(logits[i] - lse for i in own) / len(own)
        assert scores[s].item() == pytest.approx(expected, rel=1e-5)
    assert scores[0] < scores[1] < scores[2] and scores[3] < scores[4]
    idx = V.select_anchor_indices(text_labels, 2, 2, 'anss', scores)
    assert idx.tolist() == [[0, 1], [3, 4]]
    # a class with fewer sentences than M repeats its ranked list
    assert V.select_anchor_indices(text_labels, 2, 5, 'anss', scores)[1].tolist() == \
        [3, 4, 3, 4, 3]
    with pytest.raises(ValueError, match=r'class\(es\) \[1\].*no image'):
        V.anchor_sentence_scores(texts, text_labels, images[:2], image_labels[:2], scale)


def test_first_and_random_selection():
    labels = torch.tensor([0, 0, 0, 1, 1, 1, 1])
    assert V.select_anchor_indices(labels, 2, 2, 'first').tolist() == [[0, 1], [3, 4]]
    a = V.select_anchor_indices(labels, 2, 3, 'random', seed=3)
    assert a.tolist() == V.select_anchor_indices(labels, 2, 3, 'random', seed=3).tolist()
    assert sorted(a[0].tolist()) == [0, 1, 2] and set(a[1].tolist()) <= {3, 4, 5, 6}
    assert len(set(a[1].tolist())) == 3  # without replacement
    with pytest.raises(ValueError, match='needs the sentence scores'):
        V.select_anchor_indices(labels, 2, 2, 'anss')
    with pytest.raises(ValueError, match='class 2 has no sentence'):
        V.select_anchor_indices(labels, 3, 2, 'first')


# ----------------------------------------------------------------------------- LGR
def _layer_norm(x, eps=1e-5):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps)


def _direct_language_logits(head, f, wq, wk, qnorm=_layer_norm, knorm=_layer_norm):
    anchors, d = head.anchors, head.dim
    q = qnorm(f) @ wq.t()                             # (B, D)
    k = knorm(anchors) @ wk.t()                       # (C, M, D)
    out = torch.zeros(f.shape[0], anchors.shape[0])
    attn = torch.zeros(f.shape[0], anchors.shape[0], anchors.shape[1])
    for b in range(f.shape[0]):
        for c in range(anchors.shape[0]):
            a = torch.softmax(k[c] @ q[b] / math.sqrt(d), dim=0)
            v = (a[:, None] * anchors[c]).sum(0)
            attn[b, c] = a
            out[b, c] = head.logit_scale.exp() * F.cosine_similarity(f[b], v, dim=0)
    return out, attn


def test_lgr_attention_with_identity_projections_equals_direct_formula():
    torch.manual_seed(0)
    anchors = torch.randn(3, 4, 6)
    head = V.LanguageGuidedClassifier(anchors, logit_scale=math.log(20.0))
    f = torch.randn(5, 6)
    torch.testing.assert_close(head.query.weight, torch.eye(6))
    expected, attn = _direct_language_logits(head, f, torch.eye(6), torch.eye(6))
    torch.testing.assert_close(head.attention(f), attn)
    z1, z2 = head(f)
    torch.testing.assert_close(z2, expected, rtol=1e-4, atol=1e-5)
    assert z1.shape == (5, 3)
    # the Gram / W_k^T W_q rewriting also holds for general W_q, W_k
    with torch.no_grad():
        head.query.weight.copy_(torch.randn(6, 6))
        head.key.weight.copy_(torch.randn(6, 6))
    expected, _ = _direct_language_logits(head, f, head.query.weight, head.key.weight)
    torch.testing.assert_close(head.language_logits(f), expected, rtol=1e-4, atol=1e-4)
    # ... and for trained LayerNorm affine parameters (the direct formula uses torch's LN)
    with torch.no_grad():
        for p in (head.query_norm.weight, head.query_norm.bias, head.key_norm.weight,
                  head.key_norm.bias):
            p.copy_(torch.randn_like(p))
    expected, _ = _direct_language_logits(head, f, head.query.weight, head.key.weight,
                                          head.query_norm, head.key_norm)
    torch.testing.assert_close(head.language_logits(f), expected, rtol=1e-4, atol=1e-4)
    # the cached anchor functions follow any change of the anchors (e.g. a checkpoint load)
    state = {k: v.clone() for k, v in head.state_dict().items()}
    state['anchors'] = torch.randn(3, 4, 6)
    head.load_state_dict(state)
    expected, _ = _direct_language_logits(head, f, head.query.weight, head.key.weight,
                                          head.query_norm, head.key_norm)
    torch.testing.assert_close(head.language_logits(f), expected, rtol=1e-4, atol=1e-4)


def test_lgr_background_column_and_visual_branch():
    torch.manual_seed(0)
    head = V.LanguageGuidedClassifier(torch.randn(3, 2, 4), 1.5, hidden_ratio=2,
                                      background=True)
    f = torch.randn(7, 4)
    z1, z2 = head(f)
    assert z1.shape == z2.shape == (7, 4)
    torch.testing.assert_close(
        z2[:, -1], math.exp(1.5) * F.cosine_similarity(f, head.background[None], dim=1))
    lin1, lin2 = head.visual[0], head.visual[2]
    assert lin1.out_features == 8
    torch.testing.assert_close(z1, lin2(torch.relu(lin1(f))))
    # the anchors and scale are buffers (in the state dict), not trained
    names = dict(head.named_parameters())
    assert 'anchors' not in names and 'logit_scale' not in names
    assert {'anchors', 'logit_scale'} <= set(head.state_dict())


def test_language_logits_of_a_class_subset_are_the_full_columns():
    torch.manual_seed(0)
    head = V.LanguageGuidedClassifier(torch.randn(7, 3, 8), 1.2, hidden_ratio=1,
                                      background=True)
    with torch.no_grad():  # away from the identity / LayerNorm defaults
        for p in (head.query.weight, head.key.weight, head.key_norm.weight,
                  head.key_norm.bias, head.query_norm.bias):
            p.add_(0.3 * torch.randn_like(p))
    f = torch.randn(5, 8)
    classes = torch.tensor([1, 4, 6])
    full, sub = head.language_logits(f), head.language_logits(f, classes)
    assert full.shape == (5, 8) and sub.shape == (5, 4)
    torch.testing.assert_close(sub[:, :3], full[:, classes])
    torch.testing.assert_close(sub[:, 3], full[:, 7])  # background stays last
    torch.testing.assert_close(head.attention(f, classes), head.attention(f)[:, classes])


def test_subset_language_logits_fill_minus_inf_after_the_adjustment():
    torch.manual_seed(0)
    head = V.LanguageGuidedClassifier(torch.randn(7, 3, 8), 1.2, hidden_ratio=1,
                                      background=True)
    f = torch.randn(5, 8, requires_grad=True)
    classes = torch.tensor([1, 4, 6])
    full = head.language_logits(f)
    weights = torch.tensor([1., 2., 0., 4., 5., 6., 7., 1.])  # class 2 (outside): weight 0
    seen = []

    def adjust(logits, columns):
        seen.append(columns.tolist())
        return logits * weights[columns]
    out = head.subset_language_logits(f, classes, adjust)
    assert seen == [[1, 4, 6, 7]]  # the classes, then the background column
    columns = [1, 4, 6, 7]
    torch.testing.assert_close(out[:, columns], full[:, columns] * weights[columns])
    outside = [0, 2, 3, 5]
    assert torch.isneginf(out[:, outside]).all()  # a 0 weight did not make -inf a NaN
    # the softmax over the result is the softmax over the subset; no gradient leaks outside
    loss = F.cross_entropy(out, torch.tensor([1, 4, 7, 6, 1]))
    loss.backward()
    assert torch.isfinite(f.grad).all()
    torch.testing.assert_close(
        V.subset_logits(torch.tensor([[1., 2.]]), torch.tensor([2, 0]), 3),
        torch.tensor([[2., float('-inf'), 1.]]))


def test_sample_class_subset():
    g = torch.Generator().manual_seed(0)
    present = torch.tensor([[5, 5], [2, 9]])
    counts = torch.zeros(12)
    for _ in range(900):
        s = V.sample_class_subset(present, 12, 6, generator=g)
        assert s.tolist() == sorted(set(s.tolist())) and len(s) == 6
        assert {2, 5, 9} <= set(s.tolist())
        counts[s] += 1
    others = torch.tensor([c for c in range(12) if c not in (2, 5, 9)])
    # each of the 9 others is drawn with probability 3 / 9: 300 of 900, binomial sd ~14
    assert (counts[others] - 300).abs().max() < 60, counts
    # more present classes than the size: all of them, nothing added; size >= C: every class
    assert V.sample_class_subset(torch.tensor([3, 0, 1]), 12, 2).tolist() == [0, 1, 3]
    none = torch.tensor([], dtype=torch.long)
    assert V.sample_class_subset(none, 4, 9).tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match='size must be >= 1'):
        V.sample_class_subset(torch.tensor([1]), 4, 0)
    with pytest.raises(ValueError, match=r'present classes must be in \[0, 4\)'):
        V.sample_class_subset(torch.tensor([4]), 4, 2)  # 4 = background is not a class


def test_alpha_fusion():
    z1 = torch.tensor([[2.0, 0.0, 0.0]])
    z2 = torch.tensor([[0.0, 3.0, 0.0]])
    p = V.fuse_branch_scores(z1, z2, 0.2)
    torch.testing.assert_close(p, 0.2 * z1.softmax(1) + 0.8 * z2.softmax(1))
    assert p.argmax().item() == 1 and V.fuse_branch_scores(z1, z2, 0.9).argmax().item() == 0
    torch.testing.assert_close(V.fuse_branch_scores(z1, z2, 1.0), z1.softmax(1))
    torch.testing.assert_close(V.fuse_branch_scores(z1, z2, 0.5, 'logit'),
                               (0.5 * z1 + 0.5 * z2).softmax(1))
    with pytest.raises(ValueError, match='alpha'):
        V.fuse_branch_scores(z1, z2, 1.5)
    with pytest.raises(ValueError, match='fusion mode'):
        V.fuse_branch_scores(z1, z2, 0.5, 'max')


# ----------------------------------------------------------------------------- anchor file
def test_anchor_file_round_trip_and_errors(tmp_path):
    emb = V.AnchorEmbeddings(torch.randn(3, 2, 5), ['a', 'b', 'c'], 2.5, 'anss', 'minilm')
    path = tmp_path / 'anchors.safetensors'
    V.save_anchor_embeddings(path, emb)
    back = V.load_anchor_embeddings(path, num_classes=3, num_anchors=2, dim=5)
    assert torch.equal(back.anchors, emb.anchors)
    assert (back.class_names, back.logit_scale, back.method, back.encoder) == \
        (['a', 'b', 'c'], 2.5, 'anss', 'minilm')
    with pytest.raises(ValueError, match=r'anchors.safetensors: has 3 classes but the model '
                                         r'expects 4'):
        V.load_anchor_embeddings(path, num_classes=4)
    with pytest.raises(ValueError, match=r'has 5 embedding dim \(D\) but the model expects 8'):
        V.load_anchor_embeddings(path, dim=8)
    data = path.read_bytes()
    bad = tmp_path / 'corrupt.safetensors'
    bad.write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match='corrupt.safetensors: not a valid VL-LTR anchor'):
        V.load_anchor_embeddings(bad)
    bad.write_bytes(b'\x00' * 64)
    with pytest.raises(ValueError, match='not a valid VL-LTR anchor'):
        V.load_anchor_embeddings(bad)
    with pytest.raises(FileNotFoundError, match='select_anchor_sentences'):
        V.load_anchor_embeddings(tmp_path / 'missing.safetensors')
    with pytest.raises(ValueError, match='2 class names for 3'):
        V.save_anchor_embeddings(path, V.AnchorEmbeddings(torch.zeros(3, 1, 1), ['a', 'b'], 0.))


# ----------------------------------------------------------------------------- class texts
def test_class_texts_format(tmp_path):
    path = tmp_path / 'texts.json'
    path.write_text(json.dumps(dict(
        format=V.CLASS_TEXTS_FORMAT, templates=['a photo of a {}.'],
        classes={'black_star': dict(text='It has five points. E.g. a star! Is it? Yes.'),
                 'b': dict(display_name='letter B', sentences=['Two bowls.'])})))
    corpora = V.load_class_texts(path, ['b', 'black_star'])
    assert corpora == [['a photo of a letter B.', 'Two bowls.'],
                       ['a photo of a black star.', 'It has five points.', 'E.g. a star!',
                        'Is it?', 'Yes.']]
    sentences, labels = V.flatten_corpora(corpora)
    assert len(sentences) == 7 and labels.tolist() == [0, 0, 1, 1, 1, 1, 1]
    with pytest.raises(ValueError, match=r"texts.json: no entry for class\(es\) \['zebra'\]"):
        V.load_class_texts(path, ['b', 'zebra'])
    path.write_text(json.dumps(dict(format=V.CLASS_TEXTS_FORMAT, templates=['no slot'],
                                    classes={})))
    with pytest.raises(ValueError, match='templates'):
        V.load_class_texts(path, [])
    path.write_text('{')
    with pytest.raises(ValueError, match='not valid json'):
        V.load_class_texts(path, [])


# ----------------------------------------------------------------------------- encoders
def test_random_encoder_is_seeded_and_builder_errors():
    a = te.build_text_encoder(dict(type='random', dim=8, seed=1))
    b = te.build_text_encoder(dict(type='random', dim=8, seed=1))
    x = te.encode_sentences(a, ['a red star.', 'the letter K'])
    assert x.shape == (2, 8) and torch.equal(x, te.encode_sentences(b, ['a red star.',
                                                                        'the letter K']))
    assert a.training  # encode_sentences restores the mode
    with pytest.raises(ValueError, match="unknown text encoder type 'bert'"):
        te.build_text_encoder(dict(type='bert'))


def test_open_clip_encoder_missing_is_a_clear_error(tmp_path):
    try:
        import open_clip  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match='open_clip_torch'):
            te.build_text_encoder(dict(type='open_clip', model_name='RN50',
                                       checkpoint=str(tmp_path / 'x.pt')))
    else:
        with pytest.raises(FileNotFoundError, match='x.pt'):
            te.build_text_encoder(dict(type='open_clip', model_name='RN50',
                                       checkpoint=str(tmp_path / 'x.pt')))


_OFFLINE_CHECK = r'''
import socket
def refuse(*args, **kwargs):
    raise OSError('network disabled by the test')
socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse
import torch
from ltr_plugins.core.text_encoders import build_text_encoder, encode_sentences
enc = build_text_encoder(dict(type='minilm'))
x = encode_sentences(enc, ['a photo of a heart.', 'a red heart shape.', 'a lightning bolt.'])
assert x.shape == (3, 384), x.shape
cos = torch.nn.functional.cosine_similarity
# a pretrained sentence encoder, not a random one: related sentences are closer
assert cos(x[0], x[1], dim=0) > cos(x[0], x[2], dim=0) + 0.1
print('offline ok', enc.dim)
'''


def test_minilm_loads_offline_without_network():
    env = {**os.environ, 'HF_HUB_OFFLINE': '1', 'TRANSFORMERS_OFFLINE': '1'}
    proc = subprocess.run([sys.executable, '-c', _OFFLINE_CHECK], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'offline ok 384' in proc.stdout


_TINY_CLIP = dict(embed_dim=16,
                  vision_cfg=dict(image_size=32, layers=1, width=32, head_width=16, patch_size=16),
                  text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2,
                                layers=1))


def test_open_clip_text_tower_from_local_checkpoint(tmp_path):
    """A locally saved (random-init, tiny) CLIP: the encoder reads its weights from the file,
    drops the image tower, and encodes like the saved model's own encode_text."""
    open_clip = pytest.importorskip('open_clip', reason='text extra (open_clip_torch) missing')
    config = tmp_path / 'ltr-tiny-clip.json'
    config.write_text(json.dumps(_TINY_CLIP))
    open_clip.add_model_config(str(config))
    torch.manual_seed(0)
    reference = open_clip.create_model('ltr-tiny-clip').eval()
    ckpt = tmp_path / 'tiny_clip.pt'
    torch.save(reference.state_dict(), ckpt)
    sentences = ['a photo of a heart.', 'a lightning bolt.']
    with torch.no_grad():
        expected = reference.encode_text(open_clip.get_tokenizer('ltr-tiny-clip')(sentences))

    torch.manual_seed(1)  # a different random init: equality below needs the checkpoint
    enc = te.build_text_encoder(dict(type='open_clip', model_name='ltr-tiny-clip',
                                     checkpoint=str(ckpt), model_config=str(config)))
    assert enc.dim == 16
    assert not any(k.startswith('model.visual.') for k in enc.state_dict())
    torch.testing.assert_close(te.encode_sentences(enc, sentences), expected)
    with pytest.raises(ValueError, match="no model 'other-name'"):
        te.build_text_encoder(dict(type='open_clip', model_name='other-name',
                                   checkpoint=str(ckpt), model_config=str(config)))
