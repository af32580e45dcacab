"""VL-LTR anchor sentence selection (AnSS): keep the M best sentences of every class.

    python tools/vlltr/select_anchor_sentences.py STAGE1_CONFIG STAGE1_CHECKPOINT \
        --out anchors.safetensors [--num-anchors 64] [--method anss|random|first] \
        [--split train] [--classes FILE] [--report anchors.md] [--seed 0]

With the stage-1 model (``VLLTRPretrainer``), every sentence of every class corpus is embedded
(text encoder + text projection) and, for ``anss``, scored by its text->image contrastive loss
against the images of its class in ``--split`` (``score = -mean_i log softmax_i(s cos(t, f_i))``
over all images of the split; lower is better); the M lowest per class are kept (see
``ltr_plugins.core.vlltr.anchor_sentence_scores``). ``random`` / ``first`` are the ablations
(no images needed). Output: a safetensors file with the (C, M, D) unnormalised anchor
embeddings, the class names, M, D and the learned scale, plus a markdown report of the chosen
and dropped sentences (with scores). ``--classes`` (a names file or an LVIS json) writes the
anchors of those classes, in that order (e.g. the detector's classes).
"""
import argparse
import copy
import os.path as osp
from typing import List

import torch

import ltr_plugins  # noqa: F401  (registration)
from ltr_plugins.compat import apply_tool_fixes
from ltr_plugins.core.vlltr import (SELECTION_METHODS, AnchorEmbeddings, anchor_sentence_scores,
                                    read_class_names, save_anchor_embeddings, select_anchor_indices)
from ltr_plugins.fileio import atomic_write_text
from ltr_plugins.launch import DictAction, load_config, prepare_embedded_data


def parse_args(argv=None):
    """Command line of tools/vlltr/select_anchor_sentences.py (``--help`` lists every
    option)."""
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('config', help='stage-1 config (model type VLLTRPretrainer)')
    p.add_argument('checkpoint', help='stage-1 checkpoint')
    p.add_argument('--out', required=True, help='anchor file to write (.safetensors)')
    p.add_argument('--report', help='markdown report (default: <out without suffix>.md)')
    p.add_argument('--num-anchors', '-m', type=int, default=64, help='M per class (default 64)')
    p.add_argument('--method', default='anss', choices=SELECTION_METHODS,
                   help='anss (default), random or first (ablations)')
    p.add_argument('--split', default='train', choices=['train', 'val', 'test'],
                   help="dataloader whose images score the sentences (default train); "
                   "its dataset is read with the test pipeline")
    p.add_argument('--classes', help='write anchors for these classes, in this order: a names '
                   'file (one per line) or an LVIS / COCO json (default: all stage-1 classes)')
    p.add_argument('--seed', type=int, default=0, help='seed of --method random')
    p.add_argument('--batch-size', type=int, default=128, help='images per forward pass')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config keys')
    return p.parse_args(argv)


def build_model(cfg, checkpoint: str):
    """The stage-1 model of ``cfg`` with the weights of ``checkpoint``, in eval mode."""
    from mmengine.registry import init_default_scope
    from mmengine.runner import load_checkpoint
    from mmpretrain.registry import MODELS
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    model_cfg = copy.deepcopy(cfg.model)
    if cfg.get('data_preprocessor') is not None:  # as mmengine's Runner does
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    model = MODELS.build(model_cfg)
    if type(model).__name__ != 'VLLTRPretrainer':
        raise TypeError(f'{cfg.filename}: model type is {type(model).__name__}, expected a '
                        'VL-LTR stage-1 model (VLLTRPretrainer)')
    load_checkpoint(model, checkpoint, map_location='cpu', strict=False)
    return model.eval()


@torch.no_grad()
def image_embeddings(model, cfg, split: str, batch_size: int):
    """(N, D) stage-1 image embeddings and (N,) labels of a split (test pipeline)."""
    from mmengine.dataset import pseudo_collate
    from mmengine.utils import ProgressBar
    from mmpretrain.registry import DATASETS
    loader_cfg = cfg.get(f'{split}_dataloader')
    if not loader_cfg:
        raise KeyError(f'{cfg.filename}: no {split}_dataloader')
    ds_cfg = copy.deepcopy(loader_cfg.dataset)
    ds_cfg.pipeline = copy.deepcopy(cfg.test_dataloader.dataset.pipeline)
    dataset = DATASETS.build(ds_cfg)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False,
                                         collate_fn=pseudo_collate)
    embs, labels = [], []
    bar = ProgressBar(len(dataset))
    for batch in loader:
        data = model.data_preprocessor(batch, False)
        feats = model.extract_feat(data['inputs'])
        embs.append(model.head.image_proj(feats[-1]))
        labels.append(torch.cat([s.gt_label for s in data['data_samples']]))
        for _ in range(len(data['data_samples'])):
            bar.update()
    print()
    return torch.cat(embs), torch.cat(labels)


@torch.no_grad()
def sentence_embeddings(model) -> torch.Tensor:
    """(S, D) stage-1 text embeddings of every corpus sentence (unnormalised)."""
    from ltr_plugins.core.text_encoders import encode_sentences
    head = model.head
    if head.train_text_encoder:
        raw = encode_sentences(head.text_encoder, head.sentences)
    else:
        raw = head.text_features(torch.arange(len(head.sentences)))
    return head.text_proj(raw)


def report(path: str, args, names: List[str], sentences: List[str], labels: torch.Tensor,
           order: List[int], idx: torch.Tensor, scores) -> None:
    """Write the markdown report of the selected anchor sentences of every class to ``path``."""
    lines = [f'# Anchor sentences ({args.method}, M = {args.num_anchors})', '',
             f'Stage-1 model: `{args.config}`, `{args.checkpoint}`; '
             + (f'scored on the `{args.split}` split. Score = text->image contrastive loss '
                '(lower is better).' if args.method == 'anss' else 'no scoring.'), '']
    for row, c in enumerate(order):
        chosen = idx[row].tolist()
        lines += [f'## {names[c]}', '']
        members = torch.nonzero(labels == c)[:, 0].tolist()
        if scores is not None:
            members.sort(key=lambda i: float(scores[i]))
        repeats = len(chosen) - len(set(chosen))
        for i in members:
            mark = 'x' if i in chosen else ' '
            score = f' ({float(scores[i]):.3f})' if scores is not None else ''
            lines.append(f'- [{mark}] {sentences[i]}{score}')
        if repeats:
            lines.append(f'\n({repeats} of the M slots repeat sentences: the class has fewer '
                         'than M.)')
        lines.append('')
    atomic_write_text(path, '\n'.join(lines))


def main(argv=None):
    """Score and select the anchor sentences of every class; write ``--out`` (and
    ``--report``)."""
    args = parse_args(argv)
    apply_tool_fixes()  # safe checkpoint loading (the checkpoint holds mmengine objects)
    cfg = load_config(args.config, args.cfg_options)
    prepare_embedded_data(cfg)
    model = build_model(cfg, args.checkpoint)
    head = model.head
    labels = head.sentence_labels
    names = head.class_names
    text = sentence_embeddings(model)
    scores = None
    if args.method == 'anss':
        images, image_labels = image_embeddings(model, cfg, args.split, args.batch_size)
        scores = anchor_sentence_scores(text, labels, images, image_labels, head.scale())
    idx = select_anchor_indices(labels, len(names), args.num_anchors, args.method, scores,
                                args.seed)
    order = list(range(len(names)))
    if args.classes:
        wanted = read_class_names(args.classes)
        missing = [n for n in wanted if n not in names]
        if missing:
            raise ValueError(f'{args.classes}: class(es) {missing[:5]} are not classes of the '
                             f'stage-1 model ({args.config})')
        order = [names.index(n) for n in wanted]
    idx = idx[order]
    encoder = cfg.model.head.get('text_encoder', {}).get('type', '')
    save_anchor_embeddings(args.out, AnchorEmbeddings(
        text[idx], [names[c] for c in order], float(head.scale()), args.method, str(encoder)))
    report_path = args.report or osp.splitext(args.out)[0] + '.md'
    report(report_path, args, names, head.sentences, labels, order, idx, scores)
    print(f'wrote {args.out} ({len(order)} classes x {args.num_anchors} anchors x '
          f'{text.shape[1]}) and {report_path}')


if __name__ == '__main__':
    main()
