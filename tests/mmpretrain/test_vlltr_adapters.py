"""VL-LTR in mmpretrain: values against the core formulas, the teacher snapshot, and a tiny
stage 1 -> AnSS -> stage 2 run through tools/train.py and tools/test.py (mmdet:
tests/mmdet/test_vlltr_det.py)."""
import json
import re

import pytest
import torch
import torch.nn.functional as F
from ltr_testing import anchor_file, run_tool, vlltr_pretrainer

import ltr_plugins  # noqa: F401
from ltr_plugins.core import vlltr as V


# ----------------------------------------------------------------------------- mmpretrain
def test_lgr_cls_head_loss_and_alpha_fusion(tmp_path):
    from mmpretrain.registry import MODELS
    from mmpretrain.structures import DataSample
    head = MODELS.build(dict(type='LGRClsHead', num_classes=4, in_channels=5,
                             anchors=anchor_file(tmp_path), alpha=0.3,
                             language_loss_weight=0.5))
    assert not head.image_proj.weight.requires_grad  # frozen, from stage 1
    x = torch.randn(6, 5)
    f = head.image_proj(x)
    z1, z2 = head.lgr.visual(f), head.lgr.language_logits(f)
    labels = torch.tensor([0, 1, 2, 3, 0, 1])
    samples = [DataSample().set_gt_label(int(y)) for y in labels]
    losses = head.loss((x, ), samples)
    torch.testing.assert_close(losses['loss_visual'], F.cross_entropy(z1, labels))
    torch.testing.assert_close(losses['loss_language'], 0.5 * F.cross_entropy(z2, labels))
    preds = head.predict((x, ))
    torch.testing.assert_close(torch.stack([p.pred_score for p in preds]),
                               0.3 * z1.softmax(1) + 0.7 * z2.softmax(1))
    # anchors of another class count: tests/runtime/test_reliability.py, bad-input table


def test_pretrainer_losses_and_teacher_snapshot(tmp_path):
    from mmpretrain.structures import DataSample
    torch.manual_seed(0)
    model = vlltr_pretrainer(tmp_path)
    model.init_weights()
    head = model.head
    # sentences: 2 templates + 2 description sentences per class, class-major
    assert head.class_count.tolist() == [4, 4, 4] and head.class_start.tolist() == [0, 4, 8]
    assert not any('text_encoder' in k for k in model.state_dict())  # frozen: not saved
    inputs = torch.randn(5, 3, 16, 16)
    labels = torch.tensor([0, 2, 0, 1, 2])
    samples = [DataSample().set_gt_label(int(y)) for y in labels]
    assert not model.teacher_ready
    initial = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    torch.manual_seed(1)
    losses = model.loss(inputs, samples)
    assert bool(model.teacher_ready)
    # the teacher is the model as it was before this first step (BN statistics included)
    for k, v in initial.items():
        assert torch.equal(v, model.teacher['backbone'].state_dict()[k]), k
    # recompute with the same sentence draw, from the core formulas
    torch.manual_seed(1)
    idx = head.sample_sentences(labels)
    assert (head.sentence_labels[idx] == labels).all()
    with torch.no_grad():
        t = model.teacher
        t_img, t_txt = t['head'].embed(t['neck'](t['backbone'](inputs)), idx)
    img, txt = head.embed(model.extract_feat(inputs), idx)  # train mode: batch statistics
    ref = V.vlltr_pretrain_losses(img, txt, labels, head.scale(), t_img, t_txt, head.scale(),
                                  beta=0.5, smoothing=0.1)
    for k in ('loss_lin', 'loss_dis'):
        torch.testing.assert_close(losses[k], ref[k])
    # one optimiser step moves the student, never the teacher (and no new snapshot)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5)
    sum(losses.values()).backward()
    opt.step()
    teacher_w = model.teacher['head'].image_proj.weight.clone()
    assert not torch.equal(head.image_proj.weight, teacher_w)
    model.loss(inputs, samples)
    assert torch.equal(model.teacher['head'].image_proj.weight, teacher_w)
    # zero-shot predict: softmax of scaled cosine to the mean class-sentence embeddings
    feats = model.extract_feat(inputs)
    protos = head.class_embeddings()
    expected = (head.scale().exp() * F.normalize(head.image_proj(feats[-1]), dim=-1)
                @ F.normalize(protos, dim=-1).t()).softmax(-1)
    torch.testing.assert_close(torch.stack([p.pred_score for p in head.predict(feats)]),
                               expected)


# ----------------------------------------------------------------------------- end to end
def test_anss_tool_output_matches_the_model(vlltr_stage1):
    """The anchors written are the stage-1 text embeddings of the sentences the report marks,
    and they are the lowest-scoring ones of each class."""
    from mmengine.config import Config
    from mmengine.runner import load_checkpoint
    from mmpretrain.registry import MODELS

    from ltr_plugins.compat import apply_tool_fixes
    apply_tool_fixes()  # as the tools: load_checkpoint reads mmengine checkpoints safely
    cfg, ckpt, anchors = vlltr_stage1
    emb = V.load_anchor_embeddings(anchors, num_classes=6, num_anchors=4, dim=16)
    model = MODELS.build(Config.fromfile(cfg).model)
    load_checkpoint(model, str(ckpt), map_location='cpu')
    head = model.head
    assert emb.class_names == head.class_names and emb.method == 'anss'
    assert emb.logit_scale == pytest.approx(float(head.scale()))
    report = anchors.with_suffix('.md').read_text()
    sections = report.split('\n## ')[1:]
    assert len(sections) == 6
    for c, section in enumerate(sections):
        rows = re.findall(r'^- \[([x ])\] (.*) \(([-0-9.]+)\)$', section, re.M)
        assert len(rows) == int(head.class_count[c])
        scores = [float(s) for _, _, s in rows]
        assert scores == sorted(scores)  # listed best first
        chosen = [t for mark, t, _ in rows if mark == 'x']
        assert [mark for mark, _, _ in rows[:4]] == ['x'] * 4  # the 4 lowest are chosen
        with torch.no_grad():
            idx = torch.tensor([head.sentences.index(t) for t in chosen])
            expected = head.text_proj(head.text_features(idx))
        got = emb.anchors[c]
        # same set of rows (the file keeps the score order)
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


def test_lgr_cls_end_to_end(vlltr_stage1, tmp_path):
    _, ckpt, anchors = vlltr_stage1
    cfg = 'tests/configs/convnet_lgr_tiny.py'
    opts = ['--cfg-options', f'load_from={ckpt}', f'model.head.anchors={anchors}',
            'train_cfg.max_epochs=1', 'train_cfg.val_interval=2']  # test.py evaluates
    run_tool(['tools/train.py', cfg, '--work-dir', tmp_path, *opts])
    out = run_tool(['tools/test.py', cfg, tmp_path / 'epoch_1.pth', '--work-dir', tmp_path,
                    '--metrics-out', tmp_path / 'm.json', *opts[:3]])
    metrics = json.loads((tmp_path / 'm.json').read_text())
    assert 0 <= metrics['accuracy/top1'] <= 100 and 'accuracy/few' in metrics, out.stdout[-2000:]
    s1 = torch.load(ckpt, weights_only=False)['state_dict']
    s2 = torch.load(tmp_path / 'epoch_1.pth', weights_only=False)['state_dict']
    # the frozen stage-1 encoder (backbone + image projection) came through unchanged
    for k in ('head.image_proj.weight', 'backbone.layers.0.weight'):
        assert torch.equal(s1[k], s2[k]), k
    assert torch.equal(s2['head.lgr.anchors'], V.load_anchor_embeddings(anchors).anchors)
