"""Build a VL-LTR class text corpus (and, optionally, text-only anchors) from what you have.

    # LVIS: names, synonyms and definitions from the annotation json (label order = ids)
    python tools/vlltr/build_class_texts.py --lvis data/lvis_v1/annotations/lvis_v1_train.json \
        --out data/lvis_v1/class_texts.json \
        --anchors data/lvis_v1/vlltr_anchors_m16.safetensors --num-anchors 16

    # ImageNet-LT / Places-LT: class names (+ optional descriptions) -> class_texts.json and
    # classes.txt for the stage-1 configs (then AnSS: select_anchor_sentences.py)
    python tools/vlltr/build_class_texts.py --vlltr-release data/imagenet \
        --out data/imagenet/class_texts.json --classes-out data/imagenet/classes.txt
    python tools/vlltr/build_class_texts.py --names-from-list data/places365/Places_LT_train.txt \
        --out data/places365/class_texts.json --classes-out data/places365/classes.txt

Class sources (one): ``--lvis JSON`` (LVIS v1 / v0.5), ``--names FILE`` (one name per line in
label order, or a json with ``categories``), ``--names-from-list LIST`` (the image folders of an
mmpretrain list name the classes, as in Places-LT), ``--vlltr-release DIR`` (the VL-LTR
release's ``labels.txt`` + ``wiki/desc_<i>.txt``). ``--descriptions JSON`` adds a user corpus
``{class name: text or [sentences]}``; ``--templates FILE`` replaces the default prompt
templates (one per line, with ``{}``).

With ``--anchors`` the corpus is encoded offline (``--encoder minilm``: the packaged MiniLM;
``open_clip`` with ``--clip-model`` / ``--clip-checkpoint``, a local file) and the M anchors
per class are chosen by the text-only rule (sentences closest to their class's mean text
embedding, ``ltr_plugins.core.text_anchors``) -- for runs without a stage-1 model. With a
stage-1 model use tools/vlltr/select_anchor_sentences.py (AnSS) instead. See
docs/datasets.md and docs/methods/vlltr.md.
"""
import argparse
import sys

from ltr_plugins.core.vlltr import (flatten_corpora, load_class_texts, read_class_names,
                                    save_anchor_embeddings)
from ltr_plugins.datasets import class_texts as ct
from ltr_plugins.fileio import atomic_write_json, atomic_write_text, read_text


def parse_args(argv=None) -> argparse.Namespace:
    """Command line of tools/vlltr/build_class_texts.py (``--help`` lists every option)."""
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument('--lvis', help='LVIS v1 / v0.5 annotation json (categories)')
    src.add_argument('--names', help='class names, one per line in label order (or a json '
                     'with categories)')
    src.add_argument('--names-from-list', help='mmpretrain "path label" list whose image '
                     'folders name the classes (Places-LT)')
    src.add_argument('--vlltr-release', help="folder with the VL-LTR release's labels.txt and "
                     'wiki/desc_<i>.txt')
    p.add_argument('--descriptions', help='json {class name: text or [sentences]} to add')
    p.add_argument('--templates', help='prompt templates file (one per line, with {})')
    p.add_argument('--out', required=True, help='class text corpus to write (.json)')
    p.add_argument('--classes-out', help='also write the class names (label order), one per '
                   'line (the stage-1 configs\' classes.txt)')
    p.add_argument('--anchors', help='also encode the corpus and write text-only anchors '
                   '(.safetensors)')
    p.add_argument('--num-anchors', '-m', type=int, default=16, help='M per class (default 16)')
    p.add_argument('--encoder', default='minilm', choices=['minilm', 'open_clip'],
                   help='text encoder for --anchors (default: the packaged MiniLM, 384-d)')
    p.add_argument('--clip-model', default='RN50', help='open_clip architecture (RN50)')
    p.add_argument('--clip-checkpoint', help='local open_clip checkpoint (--encoder open_clip)')
    p.add_argument('--logit-scale', type=float, default=None,
                   help='log similarity scale stored with the anchors (default log(1/0.07))')
    p.add_argument('--batch-size', type=int, default=256, help='sentences per encoder pass')
    return p.parse_args(argv)


def build_corpus(args) -> dict:
    """The ``ltr_plugins.class_texts/1`` object for the chosen class source."""
    templates = ct.read_templates(args.templates) if args.templates else ct.DEFAULT_TEMPLATES
    descriptions = ct.read_descriptions(args.descriptions) if args.descriptions else {}
    if args.lvis:
        import json
        cats = json.loads(read_text(args.lvis, 'LVIS json')).get('categories')
        if not cats:
            raise ValueError(f'{args.lvis}: no "categories"')
        corpus = ct.lvis_class_texts(cats, templates)
        unknown = sorted(set(descriptions) - set(corpus['classes']))
        if unknown:
            raise ValueError(f'{args.descriptions}: class(es) {unknown[:5]} are not LVIS '
                             f'categories of {args.lvis}')
        for name, desc in descriptions.items():
            key = 'text' if isinstance(desc, str) else 'sentences'
            entry = corpus['classes'][name]
            entry[key] = desc if key == 'text' else entry.get('sentences', []) + list(desc)
        return corpus
    display = None
    if args.vlltr_release:
        names, release_texts, display = ct.read_vlltr_release(args.vlltr_release)
        descriptions = {**release_texts, **descriptions}
    elif args.names_from_list:
        names, display = ct.class_names_from_list(args.names_from_list)
    else:
        names = read_class_names(args.names)
    return ct.named_class_texts(names, templates, descriptions, display)


def write_anchors(args, corpus_path: str, names) -> None:
    """Encode the corpus and write the text-only anchors (see the module docstring)."""
    from ltr_plugins.core.text_anchors import TEXT_ONLY_LOGIT_SCALE, text_only_anchors
    from ltr_plugins.core.text_encoders import build_text_encoder, encode_sentences
    if args.encoder == 'open_clip':
        if not args.clip_checkpoint:
            raise ValueError('--encoder open_clip needs --clip-checkpoint (a local file)')
        enc_cfg = dict(type='open_clip', model_name=args.clip_model,
                       checkpoint=args.clip_checkpoint)
    else:
        enc_cfg = dict(type='minilm')
    sentences, labels = flatten_corpora(load_class_texts(corpus_path, names))
    print(f'encoding {len(sentences)} sentences of {len(names)} classes ({args.encoder}) ...')
    emb = encode_sentences(build_text_encoder(enc_cfg), sentences, args.batch_size)
    scale = TEXT_ONLY_LOGIT_SCALE if args.logit_scale is None else args.logit_scale
    encoder = args.encoder if args.encoder == 'minilm' else f'open_clip:{args.clip_model}'
    anchors = text_only_anchors(emb, labels, names, args.num_anchors, scale, encoder)
    save_anchor_embeddings(args.anchors, anchors)
    print(f'wrote {args.anchors} ({len(names)} classes x {args.num_anchors} anchors x '
          f'{emb.shape[1]}, text-only rule)')


def main(argv=None) -> int:
    """Write the corpus (and class list / anchors when asked)."""
    args = parse_args(argv)
    corpus = build_corpus(args)
    names = list(corpus['classes'])
    atomic_write_json(args.out, corpus, indent=1, ensure_ascii=False)
    load_class_texts(args.out, names)  # the reader accepts what was written
    print(f'wrote {args.out} ({len(names)} classes, {len(corpus["templates"])} templates)')
    if args.classes_out:
        atomic_write_text(args.classes_out, ''.join(n + '\n' for n in names))
        print(f'wrote {args.classes_out}')
    if args.anchors:
        write_anchors(args, args.out, names)
    return 0


if __name__ == '__main__':
    sys.exit(main())
