"""Save PNG overlays of the CAMC class activation map and calibration map for a trained model.

    python tools/analysis/show_cam.py CONFIG CHECKPOINT --out DIR [--num 8] [--split test]
                                      [--target pred|gt] [--zoom 4] [--grid FILE.png]
                                      [--cfg-options k=v ...]

Classification (``CAMCClsHead``): one PNG per image with three panels: the image, the CAM of
the target mix over it, the calibration map A over it; the title line gives the ground truth,
the prediction and the target classes with their weights. Detection (``CAMCRoIHead`` +
``CAMCShared2FCBBoxHead``): the ground-truth boxes of each image are the RoIs; each RoI's 7x7
CAM / calibration map is resized into its box. ``--target pred`` (default) shows what the model
does at inference (probability-weighted top-k of the first pass); ``--target gt`` shows the
training-time maps (ground-truth class). Every PNG is written atomically.
"""
from __future__ import annotations

import argparse
import io
import os.path as osp

import numpy as np
import torch

import ltr_plugins  # noqa: F401  (registration)
from ltr_plugins.compat import apply_tool_fixes
from ltr_plugins.fileio import atomic_write_bytes
from ltr_plugins.launch import DictAction, load_config, prepare_embedded_data


def parse_args(argv=None):
    """Command line of tools/analysis/show_cam.py (``--help`` lists every option)."""
    parser = argparse.ArgumentParser(
        description='Save CAM and calibration-map overlays (PNG) of a trained CAMC model')
    parser.add_argument('config', help='config of the trained model (mmpretrain or mmdet)')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', required=True, help='directory for the PNGs')
    parser.add_argument('--num', type=int, default=8, help='number of images (default 8)')
    parser.add_argument('--split', choices=['test', 'val', 'train'], default='test',
                        help='which dataloader\'s dataset to draw from (default test)')
    parser.add_argument('--target', choices=['pred', 'gt'], default='pred',
                        help='pred: inference target (top-k of the first pass); gt: the '
                        'ground-truth class (training-time maps). Default pred')
    parser.add_argument('--zoom', type=int, default=4, help='upscaling of the images')
    parser.add_argument('--grid', help='also write all panels stacked into this one PNG')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings')
    args = parser.parse_args(argv)
    if args.num < 1 or args.zoom < 1:
        parser.error('--num and --zoom must be >= 1')
    return args


def _jet(m: np.ndarray) -> np.ndarray:
    """(H, W) in [0, 1] -> (H, W, 3) float RGB in [0, 255]."""
    import matplotlib
    return matplotlib.colormaps['jet'](np.clip(m, 0, 1))[..., :3] * 255


def _resize(m: np.ndarray, h: int, w: int) -> np.ndarray:
    from PIL import Image
    return np.asarray(Image.fromarray(m.astype(np.float32), mode='F').resize(
        (w, h), Image.BILINEAR))


def _overlay(img: np.ndarray, m: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Blend a [0, 1] map (already at image size) into the image (where ``mask``)."""
    out = img.astype(np.float32).copy()
    blend = 0.45 * out + 0.55 * _jet(m)
    if mask is None:
        return blend
    out[mask] = blend[mask]
    return out


def _font(size: int):
    import matplotlib
    from PIL import ImageFont
    return ImageFont.truetype(osp.join(matplotlib.get_data_path(), 'fonts', 'ttf',
                                       'DejaVuSans.ttf'), size)


def _compose(panels, titles, caption: str) -> bytes:
    """Panels side by side with titles and a caption line; PNG bytes."""
    import textwrap

    from PIL import Image, ImageDraw
    h, w = panels[0].shape[:2]
    font = _font(11)
    width = len(panels) * (w + 4) + 4
    lines = textwrap.wrap(caption, width=max(20, width // 7))
    canvas = Image.new('RGB', (width, h + 26 + 14 * len(lines)), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for i, (p, t) in enumerate(zip(panels, titles)):
        canvas.paste(Image.fromarray(np.clip(p, 0, 255).astype(np.uint8)), (4 + i * (w + 4), 18))
        draw.text((4 + i * (w + 4), 3), t, fill=(0, 0, 0), font=font)
    for k, line in enumerate(lines):
        draw.text((4, h + 22 + 14 * k), line, fill=(0, 0, 0), font=font)
    buf = io.BytesIO()
    canvas.save(buf, format='PNG')
    return buf.getvalue()


def _stack(paths) -> bytes:
    """The PNGs one below the other; PNG bytes."""
    from PIL import Image
    ims = [Image.open(p).convert('RGB') for p in paths]
    grid = Image.new('RGB', (max(i.width for i in ims), sum(i.height for i in ims)), 'white')
    y = 0
    for im in ims:
        grid.paste(im, (0, y))
        y += im.height
    buf = io.BytesIO()
    grid.save(buf, format='PNG')
    return buf.getvalue()


def _load_image(path: str, zoom: int) -> np.ndarray:
    from PIL import Image
    img = np.asarray(Image.open(path).convert('RGB'))
    return img.repeat(zoom, 0).repeat(zoom, 1)


def _targets_text(out, i: int, names) -> str:
    return ', '.join(f'{names[int(c)]} {float(w):.2f}'
                     for c, w in zip(out.target_classes[i], out.target_weights[i]))


def _show_cls(model, batch, args, names):
    head = model.head
    if not hasattr(head, 'camc_outputs'):
        raise TypeError(f'{args.config}: the head is {type(head).__name__}, not a CAMC head')
    data = model.data_preprocessor(batch, False)
    samples = data['data_samples']
    labels = torch.cat([s.gt_label for s in samples]) if args.target == 'gt' else None
    out = head.camc_outputs(model.extract_feat(data['inputs']), labels)
    preds = out.logits.argmax(1)
    pngs = []
    for i, s in enumerate(samples):
        img = _load_image(s.img_path, args.zoom)
        h, w = img.shape[:2]
        cam = _resize(out.cam[i].numpy(), h, w)
        cal = _resize(out.calibration[i].numpy(), h, w)
        caption = (f'gt {names[int(s.gt_label)]}, pred {names[int(preds[i])]}; target '
                   f'({args.target}): {_targets_text(out, i, names)}')
        pngs.append((osp.splitext(osp.basename(s.img_path))[0],
                     _compose([img, _overlay(img, cam), _overlay(img, cal)],
                              ['image', 'CAM', 'calibration A'], caption)))
    return pngs


def _show_det(model, batch, args, names):
    from mmdet.structures.bbox import bbox2roi
    roi_head = model.roi_head
    if not hasattr(roi_head.bbox_head, 'camc_outputs'):
        raise TypeError(f'{args.config}: the bbox head is {type(roi_head.bbox_head).__name__}, '
                        'not CAMCShared2FCBBoxHead')
    data = model.data_preprocessor(batch, False)
    samples = data['data_samples']
    boxes = []
    for s in samples:  # GT boxes are loaded after Resize in the test pipeline: rescale them
        sf = s.metainfo.get('scale_factor', (1.0, 1.0))
        boxes.append(s.gt_instances.bboxes.tensor if hasattr(s.gt_instances.bboxes, 'tensor')
                     else s.gt_instances.bboxes)
        boxes[-1] = boxes[-1] * boxes[-1].new_tensor([sf[0], sf[1], sf[0], sf[1]])
    rois = bbox2roi(boxes)
    x = model.extract_feat(data['inputs'])
    feats = roi_head.bbox_roi_extractor(x[:roi_head.bbox_roi_extractor.num_inputs], rois)
    labels = torch.cat([s.gt_instances.labels for s in samples])
    out = roi_head.bbox_head.camc_outputs(feats, labels if args.target == 'gt' else None)
    names = list(names) + ['background']
    pngs, start = [], 0
    for s, b in zip(samples, boxes):
        img = _load_image(s.img_path, args.zoom)
        h, w = img.shape[:2]
        sf = s.metainfo.get('scale_factor', (1.0, 1.0))
        cam_img, cal_img = img.astype(np.float32), img.astype(np.float32)
        lines = []
        for j in range(len(b)):
            r = start + j
            x0, y0, x1, y1 = (b[j] / b[j].new_tensor([sf[0], sf[1], sf[0], sf[1]])
                              * args.zoom).round().long().tolist()
            x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(max(x1, x0 + 1), w), \
                min(max(y1, y0 + 1), h)
            mask = np.zeros((h, w), bool)
            mask[y0:y1, x0:x1] = True
            for target, m in ((cam_img, out.cam[r]), (cal_img, out.calibration[r])):
                full = np.zeros((h, w), np.float32)
                full[y0:y1, x0:x1] = _resize(m.numpy(), y1 - y0, x1 - x0)
                target[...] = _overlay(target, full, mask)
            lines.append(f'{names[int(labels[r])]}→{_targets_text(out, r, names)}')
        start += len(b)
        pngs.append((osp.splitext(osp.basename(s.img_path))[0],
                     _compose([img, cam_img, cal_img], ['image', 'RoI CAM', 'RoI calibration A'],
                              f'target ({args.target}): ' + '; '.join(lines))))
    return pngs


def main(argv=None):
    """Write the overlays of ``--num`` images of CONFIG's ``--split``; the PNG paths."""
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import DATASETS, MODELS, DefaultScope
    from mmengine.runner import load_checkpoint
    args = parse_args(argv)
    apply_tool_fixes()  # safe checkpoint loading (the checkpoint holds mmengine objects)
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint {args.checkpoint!r} does not exist')
    cfg = load_config(args.config, args.cfg_options)
    prepare_embedded_data(cfg)
    if cfg.get('data_preprocessor'):  # as mmengine's Runner: the top-level one wins
        cfg.model.setdefault('data_preprocessor', cfg.data_preprocessor)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        model = MODELS.build(cfg.model)
        load_checkpoint(model, args.checkpoint, map_location='cpu', logger='silent')
        model.eval()
        dataset = DATASETS.build(cfg[f'{args.split}_dataloader'].dataset)
    names = dataset.metainfo['classes']
    # evenly spaced images, so a class-sorted test set shows head, medium and tail classes
    idx = np.linspace(0, len(dataset) - 1, min(args.num, len(dataset))).round().astype(int)
    show = _show_det if cfg.default_scope == 'mmdet' else _show_cls
    written = []
    with torch.no_grad():
        for chunk in range(0, len(idx), 8):
            batch = pseudo_collate([dataset[int(i)] for i in idx[chunk:chunk + 8]])
            for name, png in show(model, batch, args, names):
                path = osp.join(args.out, f'cam_{len(written):03d}_{name}.png')
                atomic_write_bytes(path, png)
                written.append(path)
    if args.grid:
        atomic_write_bytes(args.grid, _stack(written))
    print(f'wrote {len(written)} PNGs to {args.out}')
    return written


if __name__ == '__main__':
    main()
