"""Deterministic, embedded long-tailed data: LVIS v1 instance segmentation + classification.

Real LVIS v1 / ImageNet-LT cannot be downloaded here, so this module synthesises small data sets in
exactly their on-disk formats (see ``generate``) so that configs, tools and tests run the same code
path as real data, with only ``data_root`` changed.

Content. Each class is a glyph from matplotlib's bundled DejaVu Sans (letters, digits, symbols such
as ``black_star`` or ``anchor``; confusable glyphs like O/0/o, I/l/1, 8/B, ■/◆, ♂/♀ are left out).
Each instance gets a random colour (not tied to class), fill texture (solid / stripes / noise /
gradient), scale, aspect and rotation (within +-``max_rotation`` so that 6/9 stay apart), on a
random background (solid / gradient / blotchy noise / stripes) with distractor lines and blobs, so
only shape separates the classes. Masks are exact: a glyph is rasterised, thresholded, and the
object is painted only where its mask is set (no anti-aliasing), so mask == painted pixels.

Occlusion rule. Objects in a detection image are painted in order, later over earlier. A new object
is placed only where, after it is painted, every earlier object keeps a visible area of at least
``min_visible_area`` pixels and at least ``min_visible_frac`` (0.3) of its unoccluded area; up to
``_PLACE_TRIES`` positions/scales are tried, and an object that cannot be placed is not drawn at
all. So every drawn object is annotated, and each annotation is the exact mask of its visible
pixels.

Long tail. Target training image counts per class decay geometrically with class index inside each
group band (det: f = [head, 110], c = [80, 15], r = [8, head / imbalance]; cls: many = [head, 120],
medium = [90, 25], few = [15, head / imbalance]). The bands keep clear of the LVIS / ImageNet-LT
thresholds, so every preset covers all groups. Everything is seeded from numpy PCG64 streams keyed
by (seed, task, split, index), so the same (preset, seed) gives byte-identical files (given the
same numpy / Pillow builds: FreeType, libjpeg and zlib output is part of the bytes).
"""
from __future__ import annotations

import argparse
import dataclasses
import fcntl
import json
import os
import shutil
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

# 4: open-set classification split (ImageNet_LT_open.txt); 5: class_texts.json corpora.
# Every file of an older version is byte-identical.
GENERATOR_VERSION = 5
#: version of the image / annotation content, written into the LVIS jsons' ``info``; it stays at
#: the version that last changed them, so adding outputs keeps those files byte-identical
ANNOTATION_VERSION = 3
TASKS = ('det', 'cls')
_PLACE_TRIES = 40
#: classification lists, named as ImageNet-LT's so the real-data configs read the embedded data
CLS_ANN_FILES = {'train': 'ImageNet_LT_train.txt', 'val': 'ImageNet_LT_val.txt',
                 'test': 'ImageNet_LT_test.txt'}
#: open-set list (classes never seen in training, label -1), as OLTR's ImageNet_LT_open.txt
CLS_OPEN_ANN_FILE = 'ImageNet_LT_open.txt'
_CLS_OPEN_SPLIT = 3  # RNG key of the open split (train / val / test use 0 / 1 / 2)
_COCO_PREFIX = 'http://images.cocodataset.org/'
_DATE = '2017-01-01 00:00:00'

# (class name, glyph) in class-index order; the head of the long tail comes first.
GLYPHS: tuple[tuple[str, str], ...] = (
    ('black_star', '\u2605'), ('letter_a', 'A'), ('heart', '\u2665'), ('digit_3', '3'),
    ('umbrella', '\u2602'), ('letter_k', 'K'), ('spade', '\u2660'), ('digit_7', '7'),
    ('airplane', '\u2708'), ('letter_r', 'R'), ('eighth_note', '\u266a'), ('letter_e', 'E'),
    ('anchor', '\u2693'), ('digit_4', '4'), ('club', '\u2663'), ('letter_g', 'G'),
    ('snowflake', '\u2744'), ('letter_m', 'M'), ('triangle', '\u25b2'), ('digit_2', '2'),
    ('scissors', '\u2702'), ('letter_h', 'H'), ('lightning', '\u26a1'), ('letter_y', 'Y'),
    ('telephone', '\u260e'), ('digit_6', '6'), ('chess_knight', '\u265e'), ('letter_f', 'F'),
    ('sun', '\u2600'), ('letter_b', 'B'), ('check_mark', '\u2714'), ('digit_9', '9'),
    ('flower', '\u273f'), ('letter_t', 'T'), ('yin_yang', '\u262f'), ('letter_w', 'W'),
    ('beamed_notes', '\u266b'), ('digit_5', '5'), ('gear', '\u2699'), ('letter_p', 'P'),
    ('shamrock', '\u2618'), ('letter_u', 'U'), ('recycling', '\u267b'), ('letter_d', 'D'),
    ('flag', '\u2691'), ('letter_j', 'J'), ('female_sign', '\u2640'), ('letter_n', 'N'),
    ('chess_rook', '\u265c'), ('disc', '\u25cf'), ('skull', '\u2620'), ('letter_c', 'C'),
    ('cloud', '\u2601'), ('warning_sign', '\u26a0'), ('crossed_swords', '\u2694'),
    ('letter_v', 'V'), ('envelope', '\u2709'), ('hot_beverage', '\u2615'),
    ('radioactive', '\u2622'), ('wheelchair', '\u267f'), ('atom', '\u269b'), ('snowman', '\u2603'),
)


@dataclass(frozen=True)
class GeneratorConfig:
    """All knobs of one preset. Sizes are pixels; counts are images unless stated."""
    # --- detection (LVIS v1 format) ---
    det_groups: tuple[int, int, int] = (4, 4, 4)  # number of (f, c, r) classes, in index order
    det_image_size: int = 128                     # square images
    det_train_images: int = 600                   # number of train / val images
    det_val_images: int = 150
    det_head_images: int = 300                    # target train image count of class 0
    det_imbalance: float = 75.0                   # head / tail target train image counts
    det_val_images_per_class: int = 12            # planned val images containing each class
    det_max_objects: int = 4                      # max instances per image (duplicates included)
    det_max_classes: int = 3                      # max distinct classes per image
    det_dup_prob: float = 0.2                     # chance a class gets a 2nd instance in an image
    det_object_size: tuple[float, float] = (0.2, 0.5)  # longest side / image size
    min_visible_area: int = 20                    # occlusion rule, see module docstring
    min_visible_frac: float = 0.3                 # ... and fraction of unoccluded area kept
    neg_fraction: float = 1.0                     # fraction of absent classes listed as negative
    jpeg_quality: int = 92                        # saved with 4:4:4 chroma (no subsampling)
    # --- classification (mmpretrain CustomDataset format) ---
    cls_groups: tuple[int, int, int] = (6, 7, 7)  # number of (many, medium, few) classes
    cls_image_size: int = 32                      # square images, one object each
    cls_head_images: int = 300                    # train images of class 0
    cls_imbalance: float = 100.0                  # head / tail train images
    cls_val_per_class: int = 20                   # val and test are balanced
    cls_test_per_class: int = 20
    cls_open_classes: int = 10                    # open-set classes (test only, label -1)
    cls_object_size: tuple[float, float] = (0.7, 0.95)  # longest side / image size
    cls_max_distractors: int = 1                  # fewer than det: 32 px crops, 1.6k images
    # --- appearance ---
    max_rotation: float = 25.0                    # degrees, +-
    max_distractors: int = 3                      # background strokes / blobs per image

    def __post_init__(self) -> None:
        if sum(self.cls_groups) + self.cls_open_classes > len(GLYPHS):
            raise ValueError(f'cls_groups={self.cls_groups} + cls_open_classes='
                             f'{self.cls_open_classes}: more than {len(GLYPHS)} glyph classes')
        for name in ('det_groups', 'cls_groups'):
            n = sum(getattr(self, name))
            if n > len(GLYPHS) or min(getattr(self, name)) < 1:
                raise ValueError(f'{name}={getattr(self, name)}: need >=1 per group, '
                                 f'<= {len(GLYPHS)} classes in all')
        if not (self.det_head_images > 110 and self.det_head_images / self.det_imbalance <= 8):
            raise ValueError('det_head_images must be > 110 and head / imbalance <= 8')
        if not (self.cls_head_images > 120 and 1 <= self.cls_head_images / self.cls_imbalance < 16):
            raise ValueError('cls_head_images must be > 120 and 1 <= head / imbalance < 16')

    @property
    def det_classes(self) -> list[tuple[str, str]]:
        """(name, glyph) of the detection classes: the first ``sum(det_groups)`` glyphs."""
        return list(GLYPHS[:sum(self.det_groups)])

    @property
    def cls_classes(self) -> list[tuple[str, str]]:
        """(name, glyph) of the classification classes: the first ``sum(cls_groups)`` glyphs."""
        return list(GLYPHS[:sum(self.cls_groups)])


PRESETS: dict[str, GeneratorConfig] = {
    # Unit tests: seconds. f classes just above 100 images at 64 px.
    'tiny': GeneratorConfig(
        det_groups=(2, 2, 2), det_image_size=64, det_train_images=200, det_val_images=20,
        det_head_images=125, det_imbalance=125 / 3, det_val_images_per_class=5, det_max_objects=3,
        det_max_classes=2, det_object_size=(0.3, 0.55), min_visible_area=12,
        cls_groups=(2, 2, 2), cls_head_images=130, cls_imbalance=130 / 4, cls_val_per_class=5,
        cls_test_per_class=5),
    # Main job: the CPU Mask R-CNN test bed of the notes (12 classes, 128 px, 600 / 150 images).
    'demo': GeneratorConfig(),
    # Long-tail benchmark.
    'bench': GeneratorConfig(
        det_groups=(10, 10, 10), det_train_images=1500, det_val_images=300, det_head_images=400,
        det_imbalance=100.0, det_val_images_per_class=15,
        cls_groups=(15, 20, 15), cls_head_images=400, cls_imbalance=200.0, cls_val_per_class=30,
        cls_test_per_class=30),
}


# ----------------------------------------------------------------------------- helpers
def _rng(seed: int, *keys: int) -> np.random.Generator:
    """Independent stream per (seed, keys): adding images never shifts the others' content."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, *keys])))


def long_tail_counts(groups: Sequence[int], bands: Sequence[tuple[float, float]]) -> list[int]:
    """Per-class counts decaying geometrically inside each group's (high, low) band."""
    out: list[int] = []
    for n, (hi, lo) in zip(groups, bands):
        vals = [np.sqrt(hi * lo)] if n == 1 else np.geomspace(hi, lo, n)
        out += [int(round(v)) for v in vals]
    return out


def _det_bands(cfg: GeneratorConfig) -> list[tuple[float, float]]:
    return [(cfg.det_head_images, 110), (80, 15), (8, cfg.det_head_images / cfg.det_imbalance)]


def _cls_bands(cfg: GeneratorConfig) -> list[tuple[float, float]]:
    return [(cfg.cls_head_images, 120), (90, 25), (15, cfg.cls_head_images / cfg.cls_imbalance)]


def lvis_frequency(image_count: int) -> str:
    """LVIS v1 frequency group from the number of training images."""
    return 'r' if image_count <= 10 else ('c' if image_count <= 100 else 'f')


_GLYPH_CACHE: dict[str, np.ndarray] = {}


def _glyph(ch: str) -> np.ndarray:
    """Tight uint8 coverage bitmap of a glyph rendered at 96 px (cached)."""
    if ch not in _GLYPH_CACHE:
        import matplotlib  # only for the path of its bundled fonts
        font = ImageFont.truetype(
            os.path.join(matplotlib.get_data_path(), 'fonts', 'ttf', 'DejaVuSans.ttf'), 96)
        im = Image.new('L', (192, 192), 0)
        ImageDraw.Draw(im).text((96, 96), ch, font=font, fill=255, anchor='mm')
        _GLYPH_CACHE[ch] = np.asarray(im.crop(im.getbbox()))
    return _GLYPH_CACHE[ch]


def _glyph_mask(ch: str, size: float, aspect: float, angle: float) -> np.ndarray:
    """Binary mask of a rotated glyph whose longest side is ~``size`` px (tightly cropped)."""
    im = Image.fromarray(_glyph(ch)).rotate(angle, resample=Image.BILINEAR, expand=True)
    im = im.crop(im.getbbox())
    w, h = im.size
    s = size / max(w * aspect, h)
    im = im.resize((max(1, round(w * aspect * s)), max(1, round(h * s))), Image.BILINEAR)
    m = np.asarray(im) > 127
    ys, xs = np.nonzero(m)
    return m[ys.min():ys.max() + 1, xs.min():xs.max() + 1] if len(ys) else m


def _random_colour(rng: np.random.Generator, avoid: np.ndarray | None = None) -> np.ndarray:
    """Uniform RGB colour, resampled (a few times) until it contrasts with ``avoid``."""
    c = rng.uniform(0, 255, 3)
    for _ in range(8):
        if avoid is None or np.linalg.norm(c - avoid) > 100:
            break
        c = rng.uniform(0, 255, 3)
    return c


def _texture(rng: np.random.Generator, h: int, w: int, base: np.ndarray, kind: str) -> np.ndarray:
    """(h, w, 3) float fill: 'solid', 'stripes', 'noise' or 'gradient' around colour ``base``."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    theta = rng.uniform(0, np.pi)
    proj = xx * np.cos(theta) + yy * np.sin(theta)
    if kind == 'stripes':
        period = rng.uniform(3, 10)
        other = np.clip(base + rng.choice([-1, 1]) * rng.uniform(50, 110), 0, 255)
        on = (proj % period) < period / 2
        return np.where(on[..., None], base, other)
    if kind == 'noise':
        return base + rng.normal(0, rng.uniform(10, 35), (h, w, 3))
    if kind == 'gradient':
        other = _random_colour(rng)
        t = (proj - proj.min()) / max(float(np.ptp(proj)), 1.0)
        return base * (1 - t[..., None]) + other * t[..., None]
    return np.broadcast_to(base, (h, w, 3)) + rng.normal(0, 4, (h, w, 3))


def _background(rng: np.random.Generator, h: int, w: int, max_distractors: int) -> np.ndarray:
    """Random background (solid / gradient / blotchy noise / stripes) with distractors."""
    kind = rng.choice(['solid', 'gradient', 'blotchy', 'stripes'])
    base = _random_colour(rng)
    if kind == 'blotchy':  # low-frequency colour field + pixel noise
        small = Image.fromarray(rng.uniform(0, 255, (4, 4, 3)).astype(np.uint8))
        bg = np.asarray(small.resize((w, h), Image.BILINEAR), np.float32)
        bg = bg + rng.normal(0, 12, (h, w, 3))
    else:
        bg = _texture(rng, h, w, base, str(kind))
    im = Image.fromarray(np.clip(bg, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(im)
    for _ in range(int(rng.integers(0, max_distractors + 1))):
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        x0, x1 = sorted(rng.uniform(0, w, 2))
        y0, y1 = sorted(rng.uniform(0, h, 2))
        if rng.random() < 0.6:  # stroke
            draw.line([(x0, y0), (x1, y1)] if rng.random() < 0.5 else [(x0, y1), (x1, y0)],
                      fill=colour, width=int(rng.integers(1, 4)))
        else:  # blob
            r = rng.uniform(0.03, 0.1) * w
            draw.ellipse([x0 - r, y0 - r * rng.uniform(0.5, 1.5), x0 + r, y0 + r], fill=colour)
    return np.asarray(im, np.float32)


def _paint(rng: np.random.Generator, canvas: np.ndarray, mask: np.ndarray, y: int, x: int) -> None:
    """Paint an object with a random colour/texture where ``mask`` is set (exact, hard edges)."""
    h, w = mask.shape
    region = canvas[y:y + h, x:x + w]
    colour = _random_colour(rng, avoid=region[mask].mean(0))
    tex = _texture(rng, h, w, colour, str(rng.choice(['solid', 'stripes', 'noise', 'gradient'])))
    region[mask] = np.clip(tex[mask], 0, 255)


def _to_uint8(canvas: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(canvas), 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------- class texts
#: What each glyph looks like (two short phrases): the "useful" sentences of the class corpora.
SHAPE_TEXT: dict[str, tuple[str, str]] = {
    'black_star': (
        'a solid star with five sharp points',
        'five triangular spikes around a pentagon'),
    'letter_a': (
        'two slanted strokes meeting at a peak with a crossbar',
        'a pointed arch with a horizontal bar in the middle'),
    'heart': (
        'two rounded lobes on top joined into a point at the bottom',
        'a filled valentine shape'),
    'digit_3': (
        'two open bumps stacked on the right, open to the left',
        'a curve that bends back twice like a backwards E with round arms'),
    'umbrella': (
        'a domed canopy above a hooked handle',
        'a half circle with a scalloped edge and a J-shaped stick'),
    'letter_k': (
        'a vertical stem with two diagonal arms meeting at its middle',
        'a straight line with a sideways V attached'),
    'spade': (
        'an upside-down heart on a small triangular stem',
        'a pointed leaf shape with a flared foot'),
    'digit_7': (
        'a horizontal top bar with a long diagonal stroke down to the left',
        'a sharp corner at the top right and no curves'),
    'airplane': (
        'a long fuselage with two wide wings and a small tail',
        'a cross-like shape with swept wings'),
    'letter_r': (
        'a vertical stem with a closed bowl at the top and a leg kicking out',
        'like a P with a diagonal leg'),
    'eighth_note': (
        'a filled oval note head with a stem and one flag',
        'a single musical note with a curled tail'),
    'letter_e': (
        'a vertical stem with three horizontal arms pointing right',
        'a comb with three teeth, the middle one shorter'),
    'anchor': (
        'a vertical shaft with a ring on top and curved flukes at the bottom',
        'a cross bar near the top and a wide curved base'),
    'digit_4': (
        'a vertical stroke crossed by a horizontal bar with a diagonal joining them',
        'an open or closed triangle above a crossbar'),
    'club': (
        'three round leaves clustered on a small stem',
        'a clover of three circles with a flared foot'),
    'letter_g': (
        'an open round curve with a short horizontal spur inside on the right',
        'a C with a bar turning inwards at the bottom'),
    'snowflake': (
        'six thin arms radiating from the centre with small branches',
        'a star of crossing lines with forked tips'),
    'letter_m': (
        'two vertical stems joined by a V in the middle',
        'two peaks side by side with straight sides'),
    'triangle': (
        'a solid triangle pointing up',
        'three straight sides meeting in three sharp corners'),
    'digit_2': (
        'a rounded top hook curving down into a flat base line',
        'a swan neck curve that ends in a horizontal stroke'),
    'scissors': (
        'two crossed blades with two round finger loops',
        'an X shape with rings at one end'),
    'letter_h': (
        'two vertical stems joined by a horizontal bar in the middle',
        'a ladder with a single rung'),
    'lightning': (
        'a zigzag bolt with sharp angled corners',
        'a jagged diagonal stroke shaped like a Z'),
    'letter_y': (
        'two short arms meeting in a V on top of a single vertical stem',
        'a fork on a straight stick'),
    'telephone': (
        'a wide handset resting on a squat base with a round dial',
        'a rounded box with a curved receiver on top'),
    'digit_6': (
        'a curve sweeping down from the top into a closed loop at the bottom',
        'a round belly with a tail rising to the upper right'),
    'chess_knight': (
        'the head and neck of a horse in profile on a base',
        'a horse head with a mane and a pointed ear'),
    'letter_f': (
        'a vertical stem with a top arm and a shorter middle arm to the right',
        'like an E without the bottom arm'),
    'sun': ('a central disc surrounded by many short rays', 'a circle with spikes all around it'),
    'letter_b': (
        'a vertical stem with two closed bowls on the right, stacked',
        'two bumps on the right of a straight line'),
    'check_mark': (
        'a short stroke down to the right then a long stroke up to the right',
        'a tick shaped like a lopsided V'),
    'digit_9': (
        'a closed loop at the top with a tail going down',
        'a round head on a curved stem, like an upside-down six'),
    'flower': ('five rounded petals around a small centre', 'a blossom with heart-shaped petals'),
    'letter_t': (
        'a horizontal bar on top of a vertical stem',
        'a cross whose bar sits at the very top'),
    'yin_yang': (
        'a circle split into two swirling halves by an S-shaped curve',
        'two comma shapes with a dot in each, inside a ring'),
    'letter_w': (
        'two V shapes side by side, four slanted strokes',
        'a zigzag of three points at the bottom and top'),
    'beamed_notes': (
        'two note heads with stems joined by a beam on top',
        'a pair of musical notes connected by a bar'),
    'digit_5': (
        'a flat top bar, a short vertical stroke and a round bottom bowl open to the left',
        'a hook on the bottom and a corner on the top left'),
    'gear': ('a round wheel with square teeth on its rim and a hole in the centre', 'a cog wheel'),
    'letter_p': (
        'a vertical stem with a closed bowl at the top only',
        'a flag-like loop on a straight pole'),
    'shamrock': ('three heart-shaped leaves on a curved stem', 'a three-leaf clover with a stalk'),
    'letter_u': (
        'two vertical strokes joined by a round curve at the bottom',
        'a cup open at the top'),
    'recycling': (
        'three bent arrows chasing each other around a triangle',
        'a triangular loop of arrows'),
    'letter_d': (
        'a vertical stem with one large round bowl on the right',
        'a half circle closed by a straight line on the left'),
    'flag': (
        'a rectangular banner on the top right of a tall pole',
        'a pole with a waving cloth at the top'),
    'letter_j': ('a vertical stroke with a hook curving left at the bottom', 'a fish hook shape'),
    'female_sign': ('a ring on top of a small cross', 'a circle above a plus sign'),
    'letter_n': (
        'two vertical stems joined by a diagonal from top left to bottom right',
        'a zigzag of one diagonal between two posts'),
    'chess_rook': (
        'a tower with battlements on top and a wide base',
        'a castle turret with square notches'),
    'disc': ('a solid filled circle', 'a perfectly round dot'),
    'skull': (
        'a round skull above crossed bones',
        'a head with dark eye holes over an X of bones'),
    'letter_c': (
        'an open curve like a circle with a gap on the right',
        'a crescent opening to the right'),
    'cloud': (
        'a puffy outline of several rounded bumps on a flat bottom',
        'a fluffy lump made of overlapping circles'),
    'warning_sign': (
        'a triangle pointing up with an exclamation mark inside',
        'a hazard triangle'),
    'crossed_swords': (
        'two straight blades crossing in an X with hilts at the bottom',
        'two diagonal swords'),
    'letter_v': (
        'two slanted strokes meeting at a point at the bottom',
        'an arrowhead pointing down'),
    'envelope': (
        'a rectangle with a V-shaped flap across the top',
        'a letter envelope seen from the back'),
    'hot_beverage': (
        'a cup with a handle and wavy steam rising above it',
        'a mug with curly lines on top'),
    'radioactive': ('three fan-shaped blades around a small central dot', 'a trefoil of wedges'),
    'wheelchair': ('a seated figure on a large wheel', 'a person sitting in a wheelchair'),
    'atom': (
        'three elliptical orbits crossing around a central dot',
        'overlapping ovals like a flower of rings'),
    'snowman': (
        'two stacked balls with a hat on top',
        'a small round head on a larger round body'),
}
TEXT_TEMPLATES = (
    'a photo of a {}.', 'a picture of the {} symbol.', 'a drawing of a {}.', 'a {} glyph.',
    'a small image of a {}.', 'a rotated {}.', 'a coloured {} on a busy background.',
    'the shape of a {}.',
)
#: Sentences true of every class (not discriminative): the "noise" of the corpora.
_NOISE_TEXT = (
    'Its colour changes from one picture to the next.',
    'It may be filled with stripes, speckled noise or a smooth gradient.',
    'The background can be plain, striped, blotchy or a colour gradient.',
    'Thin lines and round blobs sometimes clutter the picture.',
    'It is usually tilted a little to the left or to the right.',
    'It can be stretched to look a bit wider or a bit taller.',
    'Pictures of it are small, only a few dozen pixels wide.',
    'It is a common sight in many documents.',
    'People have used it for a long time.',
    'It is one of many symbols in a font.',
)


def class_text_corpus(classes: Sequence[tuple[str, str]], seed: int) -> dict:
    """Class text corpus (``ltr_plugins.class_texts/1`` json object, see
    :func:`ltr_plugins.core.vlltr.load_class_texts`) for ``classes``: the prompt templates and,
    per class, a shuffled description made of 4 useful sentences about its shape, 4 generic
    sentences true of every class, and 2 misleading ones describing another class's shape.
    Drawn from its own RNG stream (seed, 2, class index): images are not affected."""
    names = [n for n, _ in classes]
    entries = {}
    for index, (name, ch) in enumerate(classes):
        rng = _rng(seed, 2, index)
        first, second = SHAPE_TEXT[name]
        kind, _, rest = name.partition('_')
        display = f'{"capital letter" if kind == "letter" else "digit"} {rest.upper()}' \
            if kind in ('letter', 'digit') else name.replace('_', ' ')
        useful = [f'It looks like {first}.', f'It is drawn as {second}.',
                  f'The {display} has the shape of {first}.', f'Its outline is {second}.']
        noise = [_NOISE_TEXT[i] for i in rng.choice(len(_NOISE_TEXT), 4, replace=False)]
        others = [n for n in names if n != name] or [n for n, _ in GLYPHS if n != name]
        wrong = [f'Some say it resembles {SHAPE_TEXT[str(o)][0]}.'
                 for o in rng.choice(others, 2, replace=False)]
        text = useful + noise + wrong
        order = rng.permutation(len(text))
        entries[name] = dict(display_name=display, glyph=ch,
                             text=' '.join(text[i] for i in order))
    return dict(format='ltr_plugins.class_texts/1', templates=list(TEXT_TEMPLATES),
                classes=entries)


# ----------------------------------------------------------------------------- detection
_SPLITS = {'train': 0, 'val': 1}


def det_plan(cfg: GeneratorConfig, seed: int, split: str) -> list[list[int]]:
    """Class indices of the instances of each image of a split (duplicates included).

    Each class c is put into ``targets[c]`` distinct images, preferring emptier ones; images left
    empty get one head-group (train) or random (val) class; then some classes get a duplicate.
    """
    rng = _rng(seed, 0, _SPLITS[split], 1 << 20)
    k = sum(cfg.det_groups)
    if split == 'train':
        n, targets = cfg.det_train_images, long_tail_counts(cfg.det_groups, _det_bands(cfg))
    else:
        n, targets = cfg.det_val_images, [cfg.det_val_images_per_class] * k
    images: list[list[int]] = [[] for _ in range(n)]
    load = np.zeros(n)
    for c, t in enumerate(targets):
        free = np.clip(cfg.det_max_classes - load, 0, None) ** 2
        if np.count_nonzero(free) < t:
            raise ValueError(f'preset too small: cannot put class {c} into {t} of {n} images')
        for i in rng.choice(n, size=t, replace=False, p=free / free.sum()):
            images[i].append(c)
            load[i] += 1
    fill_from = cfg.det_groups[0] if split == 'train' else k
    for cls_list in images:
        if not cls_list:
            cls_list.append(int(rng.integers(fill_from)))
        for c in list(cls_list):
            if len(cls_list) < cfg.det_max_objects and rng.random() < cfg.det_dup_prob:
                cls_list.append(c)
        rng.shuffle(cls_list)
    return images


def render_det_image(cfg: GeneratorConfig, seed: int, split: str, index: int,
                     classes: Sequence[int]) -> tuple[np.ndarray, list[tuple[int, np.ndarray]]]:
    """Render detection image ``index`` of ``split``; returns (HxWx3 uint8 image before JPEG,
    [(class index, visible HxW bool mask)] in paint order). Also the test/debug hook."""
    rng = _rng(seed, 0, _SPLITS[split], index)
    size = cfg.det_image_size
    canvas = _background(rng, size, size, cfg.max_distractors)
    owner = np.full((size, size), -1, np.int32)  # index into `placed` of the top object per pixel
    placed: list[tuple[int, int]] = []          # (class index, full unoccluded area)
    glyphs = cfg.det_classes
    for c in classes:
        for attempt in range(_PLACE_TRIES):
            shrink = 1.0 - 0.5 * attempt / _PLACE_TRIES  # later tries use smaller objects
            mask = _glyph_mask(glyphs[c][1], rng.uniform(*cfg.det_object_size) * size * shrink,
                               rng.uniform(0.8, 1.25), rng.uniform(-1, 1) * cfg.max_rotation)
            h, w = mask.shape
            if mask.sum() < cfg.min_visible_area or h > size or w > size:
                continue
            y, x = int(rng.integers(0, size - h + 1)), int(rng.integers(0, size - w + 1))
            covered = owner[y:y + h, x:x + w][mask]
            lost = np.bincount(covered[covered >= 0], minlength=len(placed))
            vis = np.bincount(owner[owner >= 0], minlength=len(placed)) - lost
            if all(v >= max(cfg.min_visible_area, cfg.min_visible_frac * full)
                   for v, (_, full) in zip(vis, placed)):
                owner[y:y + h, x:x + w][mask] = len(placed)
                placed.append((c, int(mask.sum())))
                _paint(rng, canvas, mask, y, x)
                break
    return _to_uint8(canvas), [(c, owner == j) for j, (c, _) in enumerate(placed)]


def _write_json(obj: dict, path: Path) -> None:
    tmp = path.with_name(path.name + '.tmp')
    tmp.write_text(json.dumps(obj, separators=(',', ':')))
    os.replace(tmp, path)


def _generate_det(cfg: GeneratorConfig, seed: int, root: Path) -> dict:
    from pycocotools import mask as mask_utils
    k = len(cfg.det_classes)
    splits: dict[str, tuple[list, list]] = {}
    next_img, next_ann = 1, 1
    for split in ('train', 'val'):
        (root / f'{split}2017').mkdir(parents=True, exist_ok=True)
        images, anns = [], []
        for index, classes in enumerate(det_plan(cfg, seed, split)):
            img, objs = render_det_image(cfg, seed, split, index, classes)
            name = f'{split}2017/{next_img:012d}.jpg'
            Image.fromarray(img).save(root / name, quality=cfg.jpeg_quality, subsampling=0)
            present = sorted({c + 1 for c, _ in objs})
            absent = [i for i in range(1, k + 1) if i not in present]
            n_neg = int(round(cfg.neg_fraction * len(absent)))
            neg_rng = _rng(seed, 0, _SPLITS[split], index, 1)
            neg = sorted(int(i) for i in neg_rng.choice(absent, n_neg, replace=False)) \
                if n_neg < len(absent) else absent
            images.append(dict(
                id=next_img, width=img.shape[1], height=img.shape[0], license=1,
                coco_url=_COCO_PREFIX + name, flickr_url=_COCO_PREFIX + name,
                date_captured=_DATE, neg_category_ids=neg, not_exhaustive_category_ids=[]))
            for c, m in objs:
                rle = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
                ys, xs = np.nonzero(m)
                anns.append(dict(
                    id=next_ann, image_id=next_img, category_id=c + 1,
                    bbox=[float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1),
                          float(ys.max() - ys.min() + 1)],
                    area=float(m.sum()),
                    segmentation={'size': [int(m.shape[0]), int(m.shape[1])],
                                  'counts': rle['counts'].decode('ascii')}))
                next_ann += 1
            next_img += 1
        splits[split] = (images, anns)
    train_anns = splits['train'][1]
    cats = []
    for i, (name, ch) in enumerate(cfg.det_classes):
        img_count = len({a['image_id'] for a in train_anns if a['category_id'] == i + 1})
        cats.append(dict(
            id=i + 1, name=name, synset=f'{name}.n.01', synonyms=[name],
            frequency=lvis_frequency(img_count), image_count=img_count,
            instance_count=sum(a['category_id'] == i + 1 for a in train_anns),
            **{'def': f'the glyph {ch!r} (U+{ord(ch):04X}) of DejaVu Sans'}))
    _write_json(class_text_corpus(cfg.det_classes, seed), root / 'class_texts.json')
    groups = {g: sum(c['frequency'] == g for c in cats) for g in 'rcf'}
    if min(groups.values()) == 0:  # guaranteed by the bands; a failure here is a bug
        raise RuntimeError(f'frequency groups not covered: {groups}')
    counts = {'categories': len(cats), 'groups': groups}
    (root / 'annotations').mkdir(parents=True, exist_ok=True)
    for split, (images, anns) in splits.items():
        _write_json(dict(info=dict(description='ltr_plugins embedded LVIS-format data',
                                   version=str(ANNOTATION_VERSION), date_created=_DATE),
                         licenses=[dict(id=1, name='CC0', url='')],
                         images=images, annotations=anns, categories=cats),
                    root / 'annotations' / f'lvis_v1_{split}.json')
        counts[split] = {'images': len(images), 'annotations': len(anns)}
    return counts


# ----------------------------------------------------------------------------- classification
def _render_cls_image(cfg: GeneratorConfig, rng: np.random.Generator, ch: str) -> Image.Image:
    """One classification image: glyph ``ch`` on a random background (all draws from ``rng``)."""
    size = cfg.cls_image_size
    canvas = _background(rng, size, size, cfg.cls_max_distractors)
    mask = _glyph_mask(ch, rng.uniform(*cfg.cls_object_size) * size,
                       rng.uniform(0.8, 1.25), rng.uniform(-1, 1) * cfg.max_rotation)
    mask = mask[:size, :size]
    h, w = mask.shape
    _paint(rng, canvas, mask, int(rng.integers(0, size - h + 1)),
           int(rng.integers(0, size - w + 1)))
    return Image.fromarray(_to_uint8(canvas))


def _generate_cls_open(cfg: GeneratorConfig, seed: int, root: Path) -> int:
    """The open-set split: ``cls_open_classes`` glyph classes that follow the training classes
    in :data:`GLYPHS` (never seen in training), ``cls_test_per_class`` images each, listed in
    ``ImageNet_LT_open.txt`` with label -1 (OLTR's open-set protocol: test + open images).
    Own RNG streams (split key 3), so the closed-set files do not change."""
    start = sum(cfg.cls_groups)
    open_classes = GLYPHS[start:start + cfg.cls_open_classes]
    lines = []
    for k, (name, ch) in enumerate(open_classes):
        (root / 'open' / name).mkdir(parents=True, exist_ok=True)
        for idx in range(cfg.cls_test_per_class):
            rel = f'open/{name}/{idx:05d}.png'
            _render_cls_image(cfg, _rng(seed, 1, _CLS_OPEN_SPLIT, k, idx), ch).save(root / rel)
            lines.append(f'{rel} -1\n')
    (root / CLS_OPEN_ANN_FILE).write_text(''.join(lines))
    (root / 'open_classes.txt').write_text(''.join(n + '\n' for n, _ in open_classes))
    return len(lines)


def _generate_cls(cfg: GeneratorConfig, seed: int, root: Path) -> dict:
    classes = cfg.cls_classes
    per_split = {'train': long_tail_counts(cfg.cls_groups, _cls_bands(cfg)),
                 'val': [cfg.cls_val_per_class] * len(classes),
                 'test': [cfg.cls_test_per_class] * len(classes)}
    root.mkdir(parents=True, exist_ok=True)
    (root / 'classes.txt').write_text(''.join(n + '\n' for n, _ in classes))
    _write_json(class_text_corpus(classes, seed), root / 'class_texts.json')
    counts: dict = {'classes': len(classes)}
    for s, (split, targets) in enumerate(per_split.items()):  # s: RNG key 0 / 1 / 2
        lines = []
        for label, ((name, ch), n) in enumerate(zip(classes, targets)):
            (root / split / name).mkdir(parents=True, exist_ok=True)
            for idx in range(n):
                rel = f'{split}/{name}/{idx:05d}.png'
                _render_cls_image(cfg, _rng(seed, 1, s, label, idx), ch).save(root / rel)
                lines.append(f'{rel} {label}\n')
        (root / CLS_ANN_FILES[split]).write_text(''.join(lines))
        counts[split] = sum(targets)
    t = per_split['train']
    counts['groups'] = {'many': sum(v > 100 for v in t), 'medium': sum(20 <= v <= 100 for v in t),
                        'few': sum(v < 20 for v in t)}
    counts['open'] = _generate_cls_open(cfg, seed, root)
    return counts


# ----------------------------------------------------------------------------- full class count
def _noise_image(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    """A random background (:func:`_background`) of ``width`` x ``height`` px, no objects."""
    return Image.fromarray(_to_uint8(_background(rng, height, width, 3)))


def generate_lvis_full_classes(root: str | Path, num_train: int = 8, num_val: int = 4,
                               size: tuple[int, int] = (1333, 800), objects: int = 8,
                               seed: int = 0) -> dict:
    """LVIS v1 files with the real 1203 categories (names, ids, frequency groups and image
    counts of the packaged ``lvis_v1_categories.csv``) but only ``num_train`` / ``num_val``
    images of ``size`` = (width, height) px, each with ``objects`` random boxes (polygon mask =
    the box) of random categories. For cost checks at the real class count and resolution
    (``ltr_plugins.benchmarking.gpu_check``); the images are backgrounds, not objects.

    Layout as real LVIS v1: ``annotations/lvis_v1_{train,val}.json``, ``train2017/``,
    ``val2017/``. Returns ``{'root': ..., 'num_classes': 1203, 'train': n, 'val': n}``.
    """
    import csv
    from importlib import resources
    root = Path(root)
    table = resources.files('ltr_plugins') / 'data' / 'lvis_v1_categories.csv'
    with table.open() as f:
        rows = list(csv.DictReader(f))
    cats = [dict(id=int(r['id']), name=r['name'], synset=r['name'], synonyms=[r['name']],
                 frequency=r['frequency'], image_count=int(r['image_count']),
                 instance_count=int(r['instance_count']), **{'def': r['name']}) for r in rows]
    width, height = size
    next_img, next_ann = 1, 1
    for s, (split, n) in enumerate((('train', num_train), ('val', num_val))):
        (root / f'{split}2017').mkdir(parents=True, exist_ok=True)
        images, anns = [], []
        for index in range(n):
            rng = _rng(seed, 2, s, index)
            name = f'{split}2017/{next_img:012d}.jpg'
            _noise_image(rng, width, height).save(root / name, quality=90)
            images.append(dict(id=next_img, width=width, height=height, license=1,
                               coco_url=_COCO_PREFIX + name, flickr_url=_COCO_PREFIX + name,
                               date_captured=_DATE, neg_category_ids=[],
                               not_exhaustive_category_ids=[]))
            for _ in range(objects):
                w, h = rng.uniform(0.08, 0.5) * width, rng.uniform(0.08, 0.5) * height
                x, y = rng.uniform(0, width - w), rng.uniform(0, height - h)
                anns.append(dict(
                    id=next_ann, image_id=next_img,
                    category_id=int(cats[int(rng.integers(len(cats)))]['id']),
                    bbox=[float(x), float(y), float(w), float(h)], area=float(w * h),
                    segmentation=[[float(x), float(y), float(x + w), float(y),
                                   float(x + w), float(y + h), float(x), float(y + h)]]))
                next_ann += 1
            next_img += 1
        (root / 'annotations').mkdir(parents=True, exist_ok=True)
        _write_json(dict(info=dict(description='ltr_plugins full-class-count LVIS-format data',
                                   version=str(ANNOTATION_VERSION), date_created=_DATE),
                         licenses=[dict(id=1, name='CC0', url='')], images=images,
                         annotations=anns, categories=cats),
                    root / 'annotations' / f'lvis_v1_{split}.json')
    return dict(root=str(root), num_classes=len(cats), train=num_train, val=num_val)


def generate_imagenet_lt_full_classes(root: str | Path, num_images: int = 16,
                                      num_test: int = 256, size: tuple[int, int] = (500, 375),
                                      seed: int = 0) -> dict:
    """ImageNet-LT lists with the real 1000 classes over ``num_images`` image files of
    ``size`` = (width, height) px (ImageNet's typical 500 x 375), for cost checks
    (``ltr_plugins.benchmarking.gpu_check``):

    * ``ImageNet_LT_train.txt``: one line per class (labels 0..999), cycling over the images;
    * ``ImageNet_LT_train_counts.txt``: the real per-class training counts of the packaged
      ``imagenet_lt_counts.csv`` (115,846 lines), for the many / medium / few groups of the
      metrics (``train_ann_file``);
    * ``ImageNet_LT_val.txt`` = ``ImageNet_LT_test.txt``: ``num_test`` lines, labels cycling;
    * ``ImageNet_LT_open.txt``: ``num_test`` lines with label -1 (OLTR's open set);
    * ``classes.txt`` (``class_0000`` ...) and ``class_texts.json`` (one template) for VL-LTR.

    Returns ``{'root': ..., 'num_classes': 1000, 'train_counts': path}``.
    """
    import csv
    from importlib import resources
    root = Path(root)
    table = resources.files('ltr_plugins') / 'data' / 'imagenet_lt_counts.csv'
    with table.open() as f:
        counts = [int(r['count']) for r in csv.DictReader(f)]
    (root / 'train').mkdir(parents=True, exist_ok=True)
    files = []
    for index in range(num_images):
        rel = f'train/{index:05d}.JPEG'
        _noise_image(_rng(seed, 3, 0, index), *size).save(root / rel, format='JPEG', quality=90)
        files.append(rel)
    c = len(counts)

    def write(name: str, labels: Sequence[int]) -> None:
        (root / name).write_text(''.join(f'{files[i % len(files)]} {label}\n'
                                         for i, label in enumerate(labels)))

    write(CLS_ANN_FILES['train'], range(c))
    write('ImageNet_LT_train_counts.txt', [k for k, n in enumerate(counts) for _ in range(n)])
    for split in ('val', 'test'):
        write(CLS_ANN_FILES[split], [i % c for i in range(num_test)])
    write(CLS_OPEN_ANN_FILE, [-1] * num_test)
    names = [f'class_{k:04d}' for k in range(c)]
    (root / 'classes.txt').write_text(''.join(n + '\n' for n in names))
    _write_json(dict(format='ltr_plugins.class_texts/1', templates=list(TEXT_TEMPLATES),
                     classes={n: {} for n in names}), root / 'class_texts.json')
    return dict(root=str(root), num_classes=c,
                train_counts=str(root / 'ImageNet_LT_train_counts.txt'))


# ----------------------------------------------------------------------------- public API
def _paths(out: Path, tasks: Sequence[str]) -> dict[str, str]:
    p: dict[str, str] = {}
    if 'det' in tasks:
        ann = out / 'lvis_v1' / 'annotations'
        p.update(det_root=str(out / 'lvis_v1'), det_train_ann=str(ann / 'lvis_v1_train.json'),
                 det_val_ann=str(ann / 'lvis_v1_val.json'),
                 det_texts=str(out / 'lvis_v1' / 'class_texts.json'))
    if 'cls' in tasks:
        cls = out / 'classification'
        p.update(cls_root=str(cls), cls_classes=str(cls / 'classes.txt'),
                 cls_open_ann=str(cls / CLS_OPEN_ANN_FILE),
                 cls_texts=str(cls / 'class_texts.json'),
                 **{f'cls_{k}_ann': str(cls / v) for k, v in CLS_ANN_FILES.items()})
    return p


def generate(out_dir: str | Path, preset: str = 'demo', seed: int = 0,
             tasks: Sequence[str] = ('det', 'cls'), force: bool = False) -> dict:
    """Generate the embedded data set(s) of ``preset`` into ``out_dir``; returns the paths.

    Layout: ``lvis_v1/{annotations/lvis_v1_{train,val}.json, train2017/, val2017/}`` and
    ``classification/{classes.txt, ImageNet_LT_{train,val,test}.txt, train/, val/, test/}``
    (+ the open-set split ``ImageNet_LT_open.txt``, ``open/``, ``open_classes.txt``), each task
    with a ``class_texts.json`` corpus for its classes, plus the stamp ``generator.json``.
    Idempotent: if the stamp records the same version, preset (and its
    config), seed and tasks, nothing is written. Otherwise the stamp and old task dirs are removed
    first and the stamp is written last (temp file + ``os.replace``), so an interrupted run is
    never taken for a complete one. Calls on the same ``out_dir`` take turns (a file lock
    ``.<name>.generator.lock`` next to it: the ranks of a training of an ``embedded_data``
    config, two command-line calls, parallel test workers), the later one finding the data made.
    """
    if preset not in PRESETS:
        raise ValueError(f'unknown preset {preset!r}; valid presets: {sorted(PRESETS)}')
    if isinstance(tasks, str):
        tasks = (tasks,)
    bad = [t for t in tasks if t not in TASKS]
    if bad or not tasks:
        raise ValueError(f'unknown task(s) {bad}; valid tasks: {list(TASKS)}')
    tasks = [t for t in TASKS if t in tasks]  # canonical order
    cfg, out = PRESETS[preset], Path(out_dir)
    paths, stamp_path = _paths(out, tasks), out / 'generator.json'
    key = dict(version=GENERATOR_VERSION, preset=preset, seed=int(seed), tasks=tasks,
               config=json.loads(json.dumps(dataclasses.asdict(cfg))))
    if not force and _is_made(stamp_path, key, paths):
        return paths
    with _one_at_a_time(out.parent / f'.{out.name}.generator.lock'):
        if not force and _is_made(stamp_path, key, paths):  # made while this call waited
            return paths
        out.mkdir(parents=True, exist_ok=True)
        stamp_path.unlink(missing_ok=True)
        for d in ('lvis_v1', 'classification'):
            shutil.rmtree(out / d, ignore_errors=True)
        counts = {}
        if 'det' in tasks:
            counts['det'] = _generate_det(cfg, int(seed), out / 'lvis_v1')
        if 'cls' in tasks:
            counts['cls'] = _generate_cls(cfg, int(seed), out / 'classification')
        _write_json(dict(key, counts=counts), stamp_path)
    return paths


@contextmanager
def _one_at_a_time(lock_path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``lock_path`` inside the block (released by the kernel however
    its holder ends). ``ltr_plugins.fileio.file_lock`` does this for the package; the generator
    keeps its own so that it still runs as a plain script without the package's imports."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, 'a') as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def _is_made(stamp_path: Path, key: dict, paths: dict) -> bool:
    """Whether the stamp records ``key`` and every path of ``paths`` exists."""
    if not stamp_path.is_file():
        return False
    try:
        old = json.loads(stamp_path.read_text())
    except ValueError:
        return False
    return {k: old.get(k) for k in key} == key and all(Path(v).exists() for v in paths.values())


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: ``python -m ltr_plugins.datasets.generator --preset demo --out data/demo``."""
    parser = argparse.ArgumentParser(
        description='Generate the embedded long-tailed data sets (LVIS v1-format instance '
                    'segmentation and mmpretrain CustomDataset classification).')
    parser.add_argument('--out', required=True, help='output directory (e.g. data/demo)')
    parser.add_argument('--preset', default='demo', choices=sorted(PRESETS),
                        help='size preset: tiny (unit tests), demo (main job), bench (benchmark)')
    parser.add_argument('--seed', type=int, default=0, help='random seed (default 0)')
    parser.add_argument('--tasks', nargs='+', default=list(TASKS), choices=TASKS,
                        help='what to generate: det (LVIS v1 instance segmentation), '
                             'cls (classification); default both')
    parser.add_argument('--force', action='store_true',
                        help='regenerate even if out/generator.json says the data is up to date')
    args = parser.parse_args(argv)
    paths = generate(args.out, args.preset, args.seed, args.tasks, args.force)
    stamp = json.loads((Path(args.out) / 'generator.json').read_text())
    print(json.dumps(dict(paths=paths, counts=stamp['counts']), indent=2))
    return 0


if __name__ == '__main__':
    sys.exit(main())
