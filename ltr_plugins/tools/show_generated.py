"""Save a PNG grid of generated detection images with their masks overlaid + classification samples.

Masks and boxes are decoded from the LVIS json (not re-rendered), so the picture shows what the
annotation files say::

    python tools/analysis/show_generated.py --data data/demo --out docs/images/embedded_samples.png

If ``--data`` holds no generated data yet (no ``generator.json``), it is generated first with
``--preset`` / ``--seed``.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ltr_plugins.fileio import atomic_write_bytes


def _font(size: int) -> ImageFont.FreeTypeFont:
    import matplotlib
    return ImageFont.truetype(
        os.path.join(matplotlib.get_data_path(), 'fonts', 'ttf', 'DejaVuSans.ttf'), size)


def _palette(i: int) -> np.ndarray:
    """Distinct, deterministic overlay colour per category id (golden-ratio hue walk)."""
    import colorsys
    return np.array(colorsys.hsv_to_rgb((i * 0.618034) % 1.0, 0.9, 1.0)) * 255


def det_tile(img_path: Path, anns: list[dict], names: dict[int, str], scale: int) -> Image.Image:
    """One detection image, upscaled, with decoded masks (tinted + outlined), boxes and names."""
    from pycocotools import mask as mask_utils
    img = np.asarray(Image.open(img_path).convert('RGB'), np.float32)
    img = img.repeat(scale, 0).repeat(scale, 1)
    for a in anns:
        m = mask_utils.decode(a['segmentation']).astype(bool).repeat(scale, 0).repeat(scale, 1)
        edge = m & ~(np.roll(m, 1, 0) & np.roll(m, -1, 0) & np.roll(m, 1, 1) & np.roll(m, -1, 1))
        c = _palette(a['category_id'])
        img[m] = 0.6 * img[m] + 0.4 * c
        img[edge] = c
    tile = Image.fromarray(img.astype(np.uint8))
    draw, font = ImageDraw.Draw(tile), _font(11)
    for a in anns:
        x, y, w, h = (v * scale for v in a['bbox'])
        c = tuple(int(v) for v in _palette(a['category_id']))
        draw.rectangle([x, y, x + w - 1, y + h - 1], outline=c)
        tb = draw.textbbox((x + 1, y + 1), names[a['category_id']], font=font)
        draw.rectangle(tb, fill=(0, 0, 0))
        draw.text((x + 1, y + 1), names[a['category_id']], fill=c, font=font)
    return tile


def make_figure(data: Path, split: str, num: int, cols: int, cls_num: int,
                scale: int) -> Image.Image:
    """Grid of ``num`` detection images of ``split`` plus one row of classification samples."""
    tiles: list[Image.Image] = []
    ann_file = data / 'lvis_v1' / 'annotations' / f'lvis_v1_{split}.json'
    if ann_file.exists():
        d = json.loads(ann_file.read_text())
        names = {c['id']: f"{c['name']} ({c['frequency']})" for c in d['categories']}
        by_img: dict[int, list[dict]] = {}
        for a in d['annotations']:
            by_img.setdefault(a['image_id'], []).append(a)
        # One image per category first (so rare classes show up), then fill in file order.
        chosen: list[dict] = []
        for cat in d['categories']:
            for im in d['images']:
                if im not in chosen and any(a['category_id'] == cat['id']
                                            for a in by_img.get(im['id'], [])):
                    chosen.append(im)
                    break
        chosen = (chosen + [im for im in d['images'] if im not in chosen])[:num]
        for im in chosen:
            rel = im['coco_url'].replace('http://images.cocodataset.org/', '')
            tiles.append(det_tile(data / 'lvis_v1' / rel, by_img.get(im['id'], []), names, scale))
    cls_tiles: list[Image.Image] = []
    meta = data / 'classification'
    if (meta / 'ImageNet_LT_train.txt').exists() and cls_num > 0:
        classes = (meta / 'classes.txt').read_text().split()
        first: dict[int, str] = {}
        for line in (meta / 'ImageNet_LT_train.txt').read_text().splitlines():
            path, label = line.rsplit(' ', 1)
            first.setdefault(int(label), path)
        font = _font(10)
        for label in sorted(first)[:cls_num]:
            im = Image.open(data / 'classification' / first[label]).convert('RGB')
            im = im.resize((im.width * scale, im.height * scale), Image.NEAREST)
            t = Image.new('RGB', (max(im.width, 64), im.height + 14), (255, 255, 255))
            t.paste(im, (0, 0))
            ImageDraw.Draw(t).text((1, im.height + 1), classes[label][:11], fill=(0, 0, 0),
                                   font=font)
            cls_tiles.append(t)
    if not tiles and not cls_tiles:
        raise SystemExit(f'no generated data under {data}')
    pad = 4
    tw = tiles[0].width if tiles else 0
    rows = (len(tiles) + cols - 1) // cols
    cls_w = sum(t.width + pad for t in cls_tiles)
    width = max(cols * (tw + pad), cls_w) + pad
    cls_h = (cls_tiles[0].height + pad) if cls_tiles else 0
    fig = Image.new('RGB', (width, rows * (tw + pad) + cls_h + pad), (255, 255, 255))
    for i, t in enumerate(tiles):
        fig.paste(t, (pad + (i % cols) * (tw + pad), pad + (i // cols) * (tw + pad)))
    x = pad
    for t in cls_tiles:
        fig.paste(t, (x, pad + rows * (tw + pad)))
        x += t.width + pad
    return fig


def main(argv: list[str] | None = None) -> int:
    """Write the figure (``--out``); 0."""
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--data', default='data/demo', help='generated data dir (with generator.json)')
    p.add_argument('--preset', default='demo', help='preset to generate if --data has no data')
    p.add_argument('--seed', type=int, default=0, help='seed to generate with if --data is empty')
    p.add_argument('--split', default='train', choices=['train', 'val'], help='detection split')
    p.add_argument('--num', type=int, default=12, help='number of detection images')
    p.add_argument('--cols', type=int, default=4, help='detection images per row')
    p.add_argument('--cls-num', type=int, default=15, help='classification samples (one per class)')
    p.add_argument('--scale', type=int, default=2, help='integer upscaling of detection images')
    p.add_argument('--out', default='docs/images/embedded_samples.png', help='output PNG')
    args = p.parse_args(argv)
    data = Path(args.data)
    if not (data / 'generator.json').exists():
        from ltr_plugins.datasets.generator import generate
        generate(data, args.preset, args.seed)
    fig = make_figure(data, args.split, args.num, args.cols, args.cls_num, args.scale)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    # An adaptive 256-colour palette keeps the PNG small (docs images should stay < 300 KB).
    buf = io.BytesIO()
    fig.quantize(256, method=Image.Quantize.MEDIANCUT).save(buf, format='PNG', optimize=True)
    atomic_write_bytes(args.out, buf.getvalue())
    kb = Path(args.out).stat().st_size // 1024
    print(f'saved {args.out} ({kb} KB, {fig.width}x{fig.height})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
