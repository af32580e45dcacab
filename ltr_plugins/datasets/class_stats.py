"""Per-class training statistics: the one object every long-tail component reads.

Framework-free (numpy only). Built from an LVIS/COCO json, an mmpretrain annotation list, a
stats csv, the packaged LVIS / ImageNet-LT / Places-LT tables, or plain counts; consumed by the
many/medium/few metric, IIF weights, samplers and plots.
"""
from __future__ import annotations

import csv
import importlib.resources
import io
import json
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from ..fileio import atomic_write_text, read_text

PathLike = Union[str, Path]

#: many / medium / few thresholds of the long-tail literature (lo, hi) = (20, 100); how a class
#: with exactly 20 / 100 images is grouped is the ``rule`` of :meth:`ClassStats.groups`.
SHOT_THRESHOLDS: Tuple[int, int] = (20, 100)
#: LVIS frequency groups: rare <= 10 < common <= 100 < frequent (by training image count).
LVIS_THRESHOLDS: Tuple[int, int] = (10, 100)
#: Training images of LVIS v1 / v0.5 (the ``images`` list of lvis_v1_train.json /
#: lvis_v0.5_train.json, http://www.lvisdataset.org; the csv tables do not hold
#: them, and they are not the sums of per-class image counts).
LVIS_V1_TRAIN_IMAGES = 100_170
LVIS_V05_TRAIN_IMAGES = 57_263
#: Columns of a stats csv, in order (the packaged LVIS tables use the same ones).
CSV_COLUMNS: Tuple[str, ...] = ('id', 'name', 'frequency', 'image_count', 'instance_count')


@dataclass(frozen=True)
class ClassStats:
    """Training-set statistics of ``K`` classes.

    Args:
        classes: class names in label order, length K.
        image_counts: (K,) number of training images that contain each class.
        instance_counts: (K,) number of training instances of each class (equal to
            ``image_counts`` for single-label classification).
        num_images: number of training images ``N`` (for LVIS this is the number of images,
            not the sum of ``image_counts``).
        source: where the statistics came from, used in error messages.
    """

    classes: Tuple[str, ...]
    image_counts: np.ndarray
    instance_counts: np.ndarray
    num_images: int
    source: str = '<counts>'

    def __post_init__(self) -> None:
        k = len(self.classes)
        for name in ('image_counts', 'instance_counts'):
            arr = np.asarray(getattr(self, name), dtype=np.int64)
            if arr.shape != (k,):
                raise ValueError(f'{self.source}: {name} has shape {arr.shape}, expected ({k},) '
                                 f'for {k} classes')
            if (arr < 0).any():
                bad = self.classes[int(np.flatnonzero(arr < 0)[0])]
                raise ValueError(f'{self.source}: negative {name} for class {bad!r}')
            object.__setattr__(self, name, arr)
        if len(set(self.classes)) != k:
            raise ValueError(f'{self.source}: duplicate class names')

    @property
    def num_classes(self) -> int:
        """K, the number of classes."""
        return len(self.classes)

    @property
    def num_instances(self) -> int:
        """Total instance count (the ``N`` of the ``*_obj`` IIF variants)."""
        return int(self.instance_counts.sum())

    # ----------------------------------------------------------------------------- groups
    def groups(self, thresholds: Sequence[int] = SHOT_THRESHOLDS,
               names: Sequence[str] = ('few', 'medium', 'many'),
               rule: str = 'inclusive') -> np.ndarray:
        """Group name of each class by training image count
        (:func:`ltr_plugins.core.evaluation.shot_groups`).

        With the default ``(20, 100)`` and ``rule='inclusive'``: many ``>= 100``, few ``<= 20``,
        medium ``21..99`` (OLTR's / VL-LTR's evaluation code); ``rule='exclusive'``: many
        ``> 100``, few ``< 20``, medium ``20..100``. Returns a (K,) array of str.
        """
        from ..core.evaluation import shot_groups  # the package imports torch: only when used
        return shot_groups(self.image_counts, thresholds, rule, names)

    def lvis_frequency(self) -> np.ndarray:
        """LVIS r / c / f of each class: r ``<= 10`` images, c ``11..100``, f ``> 100``."""
        return lvis_frequency_of(self.image_counts)

    def group_indices(self, thresholds: Sequence[int] = SHOT_THRESHOLDS,
                      rule: str = 'inclusive') -> Dict[str, np.ndarray]:
        """``{'many': idx, 'medium': idx, 'few': idx}`` class indices (possibly empty); ``rule``
        as :meth:`groups`."""
        groups = self.groups(thresholds, rule=rule)
        return {g: np.flatnonzero(groups == g) for g in ('many', 'medium', 'few')}

    # ------------------------------------------------------------------------- builders
    @classmethod
    def from_counts(cls, counts: Sequence[int], classes: Optional[Sequence[str]] = None,
                    source: str = '<counts>') -> 'ClassStats':
        """Single-label statistics from per-class image counts (N = sum of counts)."""
        counts = np.asarray(counts, dtype=np.int64)
        if classes is None:
            classes = [str(i) for i in range(len(counts))]
        return cls(tuple(classes), counts, counts.copy(), int(counts.sum()), source)

    @classmethod
    def from_mmpretrain_ann(cls, ann_file: PathLike,
                            classes: Optional[Union[Sequence[str], PathLike]] = None,
                            num_classes: Optional[int] = None) -> 'ClassStats':
        """Counts from an mmpretrain ``CustomDataset`` list (lines ``path label``).

        Args:
            ann_file: the training annotation list.
            classes: class names in label order, or a file with one name per line. When
                omitted, ``num_classes`` (or ``max(label) + 1``) numeric names are used.
            num_classes: number of classes when ``classes`` is not given.
        """
        ann_file = Path(ann_file)
        if isinstance(classes, (str, Path)):
            classes = [ln.strip() for ln in read_text(classes, 'class name list').splitlines()
                       if ln.strip()]
        labels = []
        for lineno, line in enumerate(read_text(ann_file, 'annotation list').splitlines(), 1):
            if not line.strip():
                continue
            parts = line.rsplit(maxsplit=1)
            try:
                labels.append(int(parts[1]))
            except (IndexError, ValueError):
                raise ValueError(f'{ann_file}:{lineno}: expected "<path> <int label>", '
                                 f'got {line.strip()!r}') from None
        if not labels:
            raise ValueError(f'{ann_file}: no annotations')
        k = len(classes) if classes is not None else (num_classes or max(labels) + 1)
        labels = np.asarray(labels)
        bad = labels[(labels < 0) | (labels >= k)]
        if len(bad):
            raise ValueError(f'{ann_file}: label {int(bad[0])} outside [0, {k}) for {k} classes')
        counts = np.bincount(labels, minlength=k)
        return cls.from_counts(counts, classes if classes is not None else None,
                               source=str(ann_file))

    @classmethod
    def from_lvis_json(cls, ann_file: PathLike, on_mismatch: str = 'error') -> 'ClassStats':
        """Counts from an LVIS / COCO style json (images, annotations, categories).

        Image and instance counts are counted from ``annotations``; when the categories carry
        LVIS ``image_count`` / ``instance_count`` they are cross-checked against the counted
        values: ``on_mismatch`` = ``'error'`` raises, ``'warn'`` warns and keeps the counted
        values. Classes are in ascending category id order (mmdet's label order).
        """
        if on_mismatch not in ('error', 'warn'):
            raise ValueError(f"on_mismatch must be 'error' or 'warn', got {on_mismatch!r}")
        ann_file = Path(ann_file)
        try:
            data = json.loads(read_text(ann_file, 'json'))
        except json.JSONDecodeError as e:
            raise ValueError(f'{ann_file}: not valid json ({e})') from None
        for key in ('images', 'annotations', 'categories'):
            if key not in data:
                raise ValueError(f'{ann_file}: missing top-level field {key!r}')
        cats = sorted(data['categories'], key=lambda c: c['id'])
        index = {c['id']: i for i, c in enumerate(cats)}
        k = len(cats)
        inst = np.zeros(k, np.int64)
        pairs = set()
        for ann in data['annotations']:
            try:
                ci = index[ann['category_id']]
            except KeyError:
                raise ValueError(f"{ann_file}: annotation {ann.get('id')} has unknown "
                                 f"category_id {ann.get('category_id')}") from None
            inst[ci] += 1
            pairs.add((ann['image_id'], ci))
        imgs = np.bincount(np.fromiter((ci for _, ci in pairs), np.int64, len(pairs)),
                           minlength=k)
        for field_name, counted in (('image_count', imgs), ('instance_count', inst)):
            stored = [c.get(field_name) for c in cats]
            if any(v is None for v in stored):
                continue
            bad = np.flatnonzero(np.asarray(stored) != counted)
            if len(bad):
                i = int(bad[0])
                msg = (f'{ann_file}: category {cats[i]["name"]!r} (id {cats[i]["id"]}) has '
                       f'{field_name}={stored[i]} but its annotations give {int(counted[i])} '
                       f'({len(bad)} categories disagree)')
                if on_mismatch == 'error':
                    raise ValueError(msg)
                warnings.warn(msg + '; using the counted values', stacklevel=2)
        names = tuple(c.get('name', str(c['id'])) for c in cats)
        return cls(names, imgs, inst, len(data['images']), str(ann_file))

    # ------------------------------------------------------------------------------ csv
    def to_csv(self, path: PathLike,
               extra_columns: Optional[Mapping[str, Sequence]] = None) -> None:
        """Write ``id,name,frequency,image_count,instance_count`` (+ extra columns) atomically.

        The first line is the comment ``# num_images=N`` (a csv has no other place for N, which
        is not derivable from the rows for multi-label data); :meth:`from_csv` reads it back.
        ``id`` is the 1-based label index (``label + 1``, which equals the category id of the
        contiguous LVIS v1 / v0.5 tables); ``frequency`` is the LVIS r/c/f group.

        Args:
            path: output file; written to a temporary file in the same folder, then renamed.
            extra_columns: column name -> (K,) values (e.g. IIF weight variants), appended in
                the given order. Floats are written with 10 significant digits.
        """
        path = Path(path)
        k = self.num_classes
        extra = dict(extra_columns or {})
        for name, values in extra.items():
            if name in CSV_COLUMNS:
                raise ValueError(f'extra column {name!r} clashes with a standard column')
            if len(values) != k:
                raise ValueError(f'extra column {name!r} has {len(values)} values for {k} '
                                 f'classes')
        extra_text = {name: _format_column(values) for name, values in extra.items()}
        buf = io.StringIO()
        buf.write(f'# num_images={self.num_images}\n')
        writer = csv.writer(buf, lineterminator='\n')
        writer.writerow(list(CSV_COLUMNS) + list(extra))
        freq = self.lvis_frequency()
        for i in range(k):
            writer.writerow([i + 1, self.classes[i], freq[i], int(self.image_counts[i]),
                             int(self.instance_counts[i])] + [col[i] for col in
                                                              extra_text.values()])
        atomic_write_text(path, buf.getvalue())

    @classmethod
    def from_csv(cls, path: PathLike, num_images: Optional[int] = None) -> 'ClassStats':
        """Read a stats csv (as written by :meth:`to_csv`) or a plain counts csv.

        Two layouts are accepted (leading ``# key=value`` comment lines allowed):

        * stats: ``name``, ``image_count``, ``instance_count`` required; ``id`` optional
          (rows are put in ascending ``id`` order = label order, else file order);
          ``frequency`` optional and, when present, must match the counts (LVIS r/c/f);
          other columns are ignored.
        * counts (single-label, e.g. ImageNet-LT): ``count`` plus ``class_index`` (0-based,
          must be 0..K-1; names are the index strings) or ``name``; N defaults to the sum.

        Args:
            path: the csv.
            num_images: N. Needed for the stats layout unless the file has a
                ``# num_images=N`` line; when both are given they must agree.

        Raises:
            ValueError: naming the file, line and field, for a missing column, a non-integer
                or negative count, a duplicate name / id, a wrong frequency, counts that exceed
                N, an instance count below the image count, or a missing / conflicting N.
        """
        path = Path(path)
        lines = read_text(path, 'csv').splitlines(keepends=True)
        meta: Dict[str, str] = {}
        start = 0
        while start < len(lines) and (not lines[start].strip()
                                      or lines[start].lstrip().startswith('#')):
            m = re.match(r'\s*#\s*(\w+)\s*=\s*(\S+)', lines[start])
            if m:
                meta[m.group(1)] = m.group(2)
            start += 1
        reader = csv.reader(lines[start:])
        header = next(reader, None)
        if header is None:
            raise ValueError(f'{path}: no header line')
        header = [h.strip() for h in header]
        counts_layout = 'image_count' not in header and 'count' in header
        if counts_layout:
            required = ['count'] + ([] if 'class_index' in header else ['name'])
        else:
            required = ['name', 'image_count', 'instance_count']
        missing = [c for c in required if c not in header]
        if missing:
            raise ValueError(f'{path}:{start + 1}: missing column(s) {", ".join(missing)} '
                             f'(header: {",".join(header)}; expected '
                             f'{",".join(CSV_COLUMNS)} or class_index,count)')

        rows: List[Tuple[int, Dict[str, str]]] = []
        for values in reader:
            lineno = start + reader.line_num
            if not values or all(not v.strip() for v in values):
                continue
            if len(values) != len(header):
                raise ValueError(f'{path}:{lineno}: {len(values)} fields, header has '
                                 f'{len(header)}')
            rows.append((lineno, dict(zip(header, values))))
        if not rows:
            raise ValueError(f'{path}: no class rows')

        def integer(lineno: int, row: Dict[str, str], field: str) -> int:
            text = row[field].strip()
            if not re.fullmatch(r'[+-]?\d+', text):
                raise ValueError(f'{path}:{lineno}: field {field!r} must be an integer, '
                                 f'got {row[field]!r}')
            value = int(text)
            if value < 0 and field != 'id':
                raise ValueError(f'{path}:{lineno}: field {field!r} is negative ({value})')
            return value

        key_field = 'class_index' if counts_layout and 'class_index' in header else \
            ('id' if 'id' in header else None)
        if key_field is not None:
            seen: Dict[int, int] = {}
            for lineno, row in rows:
                key = integer(lineno, row, key_field)
                if key in seen:
                    raise ValueError(f'{path}:{lineno}: field {key_field!r}: duplicate value '
                                     f'{key} (first on line {seen[key]})')
                seen[key] = lineno
            rows.sort(key=lambda r: int(r[1][key_field]))
            if key_field == 'class_index':
                keys = [int(r[1]['class_index']) for r in rows]
                if keys != list(range(len(rows))):
                    raise ValueError(f'{path}: field class_index must be 0..{len(rows) - 1}, '
                                     f'got values from {keys[0]} to {keys[-1]}')

        names, imgs, insts, seen_names = [], [], [], {}
        for lineno, row in rows:
            if counts_layout:
                name = row['class_index'].strip() if key_field == 'class_index' else row['name']
                img = inst = integer(lineno, row, 'count')
            else:
                name = row['name']
                img = integer(lineno, row, 'image_count')
                inst = integer(lineno, row, 'instance_count')
                if inst < img:
                    raise ValueError(f'{path}:{lineno}: field instance_count={inst} is below '
                                     f'image_count={img}')
            if not name:
                raise ValueError(f'{path}:{lineno}: field name is empty')
            if name in seen_names:
                raise ValueError(f'{path}:{lineno}: field name: duplicate class name {name!r} '
                                 f'(first on line {seen_names[name]})')
            seen_names[name] = lineno
            freq = row.get('frequency', '').strip()
            expected = lvis_frequency_of([img])[0]
            if freq and freq != expected:
                raise ValueError(f'{path}:{lineno}: field frequency={freq!r} does not match '
                                 f'image_count={img} (expected {expected!r})')
            names.append(name)
            imgs.append(img)
            insts.append(inst)

        n_meta = None
        if 'num_images' in meta:
            if not re.fullmatch(r'\d+', meta['num_images']):
                raise ValueError(f'{path}: comment num_images={meta["num_images"]!r} is not an '
                                 f'integer')
            n_meta = int(meta['num_images'])
        if num_images is not None and n_meta is not None and int(num_images) != n_meta:
            raise ValueError(f'{path}: num_images={num_images} given but the file says '
                             f'num_images={n_meta}')
        n = num_images if num_images is not None else n_meta
        if n is None:
            if not counts_layout:
                raise ValueError(f'{path}: no "# num_images=N" line; pass num_images= (the '
                                 f'number of training images, not the sum of image counts)')
            n = sum(imgs)
        n = int(n)
        over = [(ln, c) for (ln, _), c in zip(rows, imgs) if c > n]
        if over:
            raise ValueError(f'{path}:{over[0][0]}: field image_count={over[0][1]} exceeds '
                             f'num_images={n}')
        return cls(tuple(names), np.asarray(imgs, np.int64), np.asarray(insts, np.int64), n,
                   str(path))

    # ------------------------------------------------------------------------ dispatch
    #: names accepted by :meth:`load` for the packaged tables.
    PACKAGED_TABLES = ('lvis_v1', 'lvis_v05', 'imagenet_lt', 'places_lt')

    @classmethod
    def load(cls, source: PathLike, fmt: str = 'auto',
             classes: Optional[Union[Sequence[str], PathLike]] = None,
             num_images: Optional[int] = None, on_mismatch: str = 'error') -> 'ClassStats':
        """Statistics from any supported source: a packaged table name (``lvis_v1``,
        ``lvis_v05``, ``imagenet_lt``, ``places_lt``) or a file, whose format is ``fmt`` or,
        with ``'auto'``, told by its extension: ``.json`` LVIS/COCO, ``.txt`` mmpretrain
        list (``classes`` names its labels), ``.csv`` stats csv (``num_images`` if the file
        has no ``# num_images=`` line)."""
        source = str(source)
        if fmt == 'auto':
            if source in cls.PACKAGED_TABLES:
                return getattr(cls, f'from_{source}_table')()
            fmt = {'.json': 'lvis', '.txt': 'mmpretrain',
                   '.csv': 'csv'}.get(Path(source).suffix.lower(), '')
            if not fmt:
                raise ValueError(f'cannot tell the format of class statistics {source!r}: '
                                 f'expected .json / .txt / .csv or one of {cls.PACKAGED_TABLES}')
        if fmt not in ('lvis', 'mmpretrain', 'csv'):
            raise ValueError(f"unknown class statistics format {fmt!r}; "
                             f"valid: 'auto', 'lvis', 'mmpretrain', 'csv'")
        if not Path(source).is_file():
            raise FileNotFoundError(f'class statistics file {source!r} does not exist')
        if fmt == 'lvis':
            return cls.from_lvis_json(source, on_mismatch=on_mismatch)
        if fmt == 'mmpretrain':
            return cls.from_mmpretrain_ann(source, classes)
        return cls.from_csv(source, num_images=num_images)

    # ----------------------------------------------------------------- packaged tables
    @classmethod
    def from_packaged_table(cls, name: str, num_images: Optional[int] = None) -> 'ClassStats':
        """Read ``ltr_plugins/data/<name>`` (package data) with :meth:`from_csv`."""
        resource = importlib.resources.files('ltr_plugins') / 'data' / name
        if not resource.is_file():
            raise ValueError(f'no packaged table {name!r} in ltr_plugins/data')
        with importlib.resources.as_file(resource) as path:
            stats = cls.from_csv(path, num_images=num_images)
        return stats

    @classmethod
    def from_lvis_v1_table(cls) -> 'ClassStats':
        """LVIS v1 train: 1203 categories in id order, N = 100,170 images."""
        return cls.from_packaged_table('lvis_v1_categories.csv', LVIS_V1_TRAIN_IMAGES)

    @classmethod
    def from_lvis_v05_table(cls) -> 'ClassStats':
        """LVIS v0.5 train: 1230 categories in id order, N = 57,263 images."""
        return cls.from_packaged_table('lvis_v05_categories.csv', LVIS_V05_TRAIN_IMAGES)

    @classmethod
    def from_imagenet_lt_table(cls) -> 'ClassStats':
        """ImageNet-LT train: 1000 classes named by label index, N = sum of counts."""
        return cls.from_packaged_table('imagenet_lt_counts.csv')

    @classmethod
    def from_places_lt_table(cls) -> 'ClassStats':
        """Places-LT train: 365 classes named by label index, N = sum of counts."""
        return cls.from_packaged_table('places_lt_counts.csv')


def build_iif_from_config(num_classes: int, iif: Optional[Mapping], background: bool = False,
                          required: bool = False):
    """The ``iif=dict(...)`` option of the heads -> an
    :class:`~ltr_plugins.core.IIFLogitAdjustment`, or None when ``iif`` is None / empty and
    not ``required``.

    ``iif['stats']`` is a :class:`ClassStats` or any source :meth:`ClassStats.load` accepts (a
    packaged table such as ``'lvis_v1'`` / ``'imagenet_lt'``, an LVIS/COCO json, an mmpretrain
    list, a stats csv); the other keys (``variant``, ``p_norm``, ``clamp_negative``) go to
    :func:`ltr_plugins.core.build_iif`, which takes the resolved counts.

    Args:
        num_classes: K of the head (without background).
        iif: the config block.
        background: the head has a trailing background logit (weight 1.0).
        required: the head is an IIF head (an empty ``iif`` is an error, not "no IIF").
    """
    if not iif and not required:
        return None
    from ..core.iif import build_iif  # torch: imported only when a head asks for IIF
    options = dict(iif or {})
    if 'stats' not in options:
        raise ValueError(f'iif={options}: missing "stats" (a packaged table such as '
                         f"{ClassStats.PACKAGED_TABLES}, a training json / list or a stats csv)")
    stats = options.pop('stats')
    if not isinstance(stats, ClassStats):
        stats = ClassStats.load(stats)
    return build_iif(num_classes, stats, background=background, **options)


def lvis_frequency_of(image_counts: Sequence[int]) -> np.ndarray:
    """(K,) LVIS group ('r' / 'c' / 'f') of per-class training image counts."""
    lo, hi = LVIS_THRESHOLDS
    counts = np.asarray(image_counts)
    return np.where(counts > hi, 'f', np.where(counts > lo, 'c', 'r')).astype(object)


def _format_column(values: Sequence) -> List[str]:
    arr = np.asarray(values.detach().cpu().numpy() if hasattr(values, 'detach') else values)
    if arr.dtype.kind == 'f':
        return [format(float(v), '.10g') for v in arr]
    return [str(v) for v in arr.tolist()]
