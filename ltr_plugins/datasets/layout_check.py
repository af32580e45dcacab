"""Check a config's data layout before a run: every file it reads exists, and what is there.

Works on the resolved config (a ``dict`` / mmengine ``Config``, after ``--cfg-options`` and the
``{{$ENV:default}}`` substitution), so it does not depend on config names. Two depths:

* :func:`check_layout` with ``full=False`` (``tools/train.py`` / ``tools/test.py`` run it before
  building the runner, see :func:`ltr_plugins.launch.build_runner`): the annotation files and
  image folders of every dataloader, the files of the evaluators (``ann_file``,
  ``train_ann_file``), the model's input files (VL-LTR ``anchors``, ``class_texts``, ``classes``,
  local text-encoder / IIF-statistics files) and ``load_from``. Reads no annotation file.
* ``full=True`` (``ltr-check-data CONFIG``): also parses every annotation file, counts images,
  annotations and classes, checks that the images exist (all of them, or an evenly spaced
  sample) and compares the class list with the packaged tables (``ltr_plugins/data/*.csv``).

Path rules are the ones mmengine's ``BaseDataset`` applies: a relative ``ann_file`` and each
``data_prefix`` folder are joined to ``data_root``; an mmpretrain list line ``path label`` is an
image under ``data_root/data_prefix``; an LVIS v1 image is ``coco_url`` without
``http://images.cocodataset.org/`` under the image prefix (so both ``train2017/`` and
``val2017/`` are needed: LVIS v1 val has images of both), an LVIS v0.5 / COCO image its
``file_name`` (LVIS v0.5's ``COCO_val2014_`` prefix dropped, as mmdet does).

Nothing is written; the result is a :class:`LayoutReport`.
"""
from __future__ import annotations

import json
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from ..fileio import read_text
from .class_stats import ClassStats

__all__ = ['DataLayoutError', 'DatasetSummary', 'LayoutReport', 'check_layout',
           'iter_datasets', 'read_image_list', 'referenced_files',
           'require_complete_layout']

_COCO_URL = 'http://images.cocodataset.org/'
#: dataset wrappers: key holding the wrapped dataset(s)
_WRAPPED_KEYS = ('dataset', 'datasets')
#: model config keys whose string value is a local file the model reads at construction
_MODEL_FILE_KEYS = {'anchors': 'VL-LTR anchor file', 'class_texts': 'VL-LTR class text corpus',
                    'classes': 'class name list', 'stats': 'class statistics',
                    'train_ann_file': 'training annotation list'}
#: text encoder keys (``text_encoder=dict(...)``) that name local files / folders
_ENCODER_FILE_KEYS = {'checkpoint': 'text encoder checkpoint',
                      'model_path': 'sentence-transformers folder',
                      'model_config': 'open_clip model config'}
_LISTS = (('ImageNet_LT', 'imagenet_lt'), ('Places_LT', 'places_lt'))


class DataLayoutError(FileNotFoundError):
    """A config's data layout is incomplete; the message lists every missing file."""


@dataclass
class DatasetSummary:
    """What one dataset of the config points at, and what was found there.

    ``where`` is the config key (``train_dataloader.dataset.dataset``); ``kind`` is ``'lvis'``
    (LVIS / COCO json), ``'list'`` (mmpretrain ``path label`` list) or ``'folder'``.
    Counts are ``None`` until the annotation file is parsed (full check)."""
    where: str
    kind: str
    ann_file: str
    image_root: str
    num_images: Optional[int] = None
    num_annotations: Optional[int] = None
    num_classes: Optional[int] = None
    images_checked: int = 0
    missing_images: List[str] = field(default_factory=list)
    num_missing_images: int = 0
    folders: Dict[str, int] = field(default_factory=dict)  # top-level folder -> images
    notes: List[str] = field(default_factory=list)


@dataclass
class LayoutReport:
    """Result of :func:`check_layout`.

    ``missing`` holds ``(what, path, config key)`` for every file / folder that does not exist,
    ``problems`` other errors (unreadable files, images missing, class lists that contradict
    each other), ``warnings`` things worth knowing that do not stop a run (e.g. a class list
    that is not the packaged LVIS v1 one)."""
    config: str
    variables: Dict[str, str] = field(default_factory=dict)
    datasets: List[DatasetSummary] = field(default_factory=list)
    missing: List[Tuple[str, str, str]] = field(default_factory=list)
    problems: List[str] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing is missing and no problem was found."""
        return not self.missing and not self.problems

    def error_message(self) -> str:
        """One message naming every missing file and problem (for :class:`DataLayoutError`)."""
        lines = [f'{self.config}: the data layout is incomplete:']
        lines += [f'  missing {what}: {path}  ({where})' for what, path, where in self.missing]
        lines += [f'  {p}' for p in self.problems]
        lines.append('Check the layout with `ltr-check-data CONFIG` (docs/datasets.md).')
        return '\n'.join(lines)

    def format(self) -> str:
        """Human-readable report: variables, datasets with counts, then missing / problems."""
        out = [f'# data layout of {self.config}', '']
        for key, value in self.variables.items():
            out.append(f'{key} = {value!r}')
        for ds in self.datasets:
            out += ['', f'## {ds.where} ({ds.kind})', f'annotations: {ds.ann_file or "-"}',
                    f'images under: {ds.image_root}']
            counts = [f'{name} {value:,}' for name, value in (
                ('images', ds.num_images), ('annotations', ds.num_annotations),
                ('classes', ds.num_classes)) if value is not None]
            if counts:
                out.append('counts: ' + ', '.join(counts))
            if ds.folders:
                out.append('points into: ' + ', '.join(
                    f'{k}/ ({v:,})' for k, v in sorted(ds.folders.items())))
            if ds.images_checked:
                out.append(f'image files checked: {ds.images_checked:,}, missing: '
                           f'{ds.num_missing_images:,}')
            out += [f'note: {n}' for n in ds.notes]
        out.append('')
        out += [f'MISSING {what}: {path}  ({where})' for what, path, where in self.missing]
        out += [f'PROBLEM {p}' for p in self.problems]
        out += [f'warning: {w}' for w in self.warnings]
        out.append('layout OK' if self.ok else
                   f'layout INCOMPLETE: {len(self.missing)} missing, {len(self.problems)} '
                   'problem(s)')
        return '\n'.join(out)


# ----------------------------------------------------------------------------- config walk
def _resolved(data_root: str, path: str) -> str:
    """``path`` joined to ``data_root`` as mmengine's ``BaseDataset`` does."""
    if not path or osp.isabs(path) or not data_root:
        return path
    return osp.join(data_root, path)


def iter_datasets(cfg: Mapping) -> Iterator[Tuple[str, Mapping]]:
    """``(config key, dataset dict)`` of every leaf dataset of the train / val / test
    dataloaders, through wrappers (``ClassBalancedDataset.dataset``, ``ConcatDataset.datasets``);
    a dataset whose files another loader already reads (``test_dataloader = val_dataloader``)
    is given once."""
    seen = set()

    def walk(where: str, ds) -> Iterator[Tuple[str, Mapping]]:
        if not isinstance(ds, Mapping):
            return
        inner = [(k, ds[k]) for k in _WRAPPED_KEYS if k in ds]
        if not inner:
            files = (ds.get('data_root'), ds.get('ann_file'), str(ds.get('data_prefix')))
            if files not in seen:
                seen.add(files)
                yield where, ds
            return
        for key, value in inner:
            if isinstance(value, (list, tuple)):
                for i, item in enumerate(value):
                    yield from walk(f'{where}.{key}[{i}]', item)
            else:
                yield from walk(f'{where}.{key}', value)

    for split in ('train', 'val', 'test'):
        loader = cfg.get(f'{split}_dataloader')
        if isinstance(loader, Mapping) and loader.get('dataset') is not None:
            yield from walk(f'{split}_dataloader.dataset', loader['dataset'])


def _image_root(ds: Mapping) -> str:
    prefix = ds.get('data_prefix', '')
    if isinstance(prefix, Mapping):
        prefix = prefix.get('img', prefix.get('img_path', ''))
    return _resolved(ds.get('data_root') or '', prefix or '') or (ds.get('data_root') or '')


def _dataset_kind(ds: Mapping, ann_file: str) -> str:
    if not ann_file:
        return 'folder'
    return 'lvis' if ann_file.endswith('.json') else 'list'


def _find_keys(node, keys: Mapping[str, str], where: str) -> Iterator[Tuple[str, str, str]]:
    """``(what, value, config key)`` for every string value of ``keys`` in a nested config."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            here = f'{where}.{key}'
            if key in keys and isinstance(value, str):
                yield keys[key], value, here
            elif key == 'text_encoder' and isinstance(value, Mapping):
                for k, v in value.items():
                    if k in _ENCODER_FILE_KEYS and isinstance(v, str):
                        yield _ENCODER_FILE_KEYS[k], v, f'{here}.{k}'
            else:
                yield from _find_keys(value, keys, here)
    elif isinstance(node, (list, tuple)):
        for i, item in enumerate(node):
            yield from _find_keys(item, keys, f'{where}[{i}]')


def referenced_files(cfg: Mapping) -> List[Tuple[str, str, str]]:
    """``(what, path, config key)`` of the non-dataset files a run reads: evaluator
    annotation files, the model's input files (see the module docstring) and ``load_from``.
    Packaged table names (``stats='lvis_v1'``), URLs and empty values are left out."""
    found = []
    for key in ('val_evaluator', 'test_evaluator'):
        found += _find_keys(cfg.get(key), {'ann_file': 'evaluation annotation file',
                                           'train_ann_file': 'training annotation list'}, key)
    found += _find_keys(cfg.get('model'), _MODEL_FILE_KEYS, 'model')
    if cfg.get('load_from'):
        found.append(('checkpoint (load_from)', cfg['load_from'], 'load_from'))
    out, seen = [], set()
    for what, path, where in found:
        if not path or '://' in path or path in ClassStats.PACKAGED_TABLES or \
                (what == 'class name list' and not osp.splitext(path)[1]) or path in seen:
            continue
        seen.add(path)
        out.append((what, path, where))
    return out


# ----------------------------------------------------------------------------- full checks
def _sample(items: Sequence, limit: Optional[int]) -> Sequence:
    """All items, or ``limit`` evenly spaced ones (first and last included)."""
    if limit is None or len(items) <= limit:
        return items
    idx = np.linspace(0, len(items) - 1, limit).round().astype(int)
    return [items[i] for i in idx]


def _check_images(summary: DatasetSummary, rel_paths: Sequence[str],
                  limit: Optional[int]) -> None:
    folders: Dict[str, int] = {}
    for rel in rel_paths:
        top = rel.split('/', 1)[0] if '/' in rel else '.'
        folders[top] = folders.get(top, 0) + 1
    summary.folders = folders
    checked = _sample(rel_paths, limit)
    missing = [p for p in checked if not osp.isfile(osp.join(summary.image_root, p))]
    summary.images_checked = len(checked)
    summary.num_missing_images = len(missing)
    summary.missing_images = missing[:5]


def _lvis_image_path(img: Mapping, v1: bool) -> str:
    """Image file relative to the image prefix, as mmdet's LVISV1Dataset (``coco_url``) or
    LVISV05Dataset / CocoDataset (``file_name``) resolve it."""
    if v1:
        return img.get('coco_url', '').replace(_COCO_URL, '')
    name = img.get('file_name', '')
    return name[-16:] if name.startswith('COCO') else name  # LVIS v0.5's 2014 names


def _compare_lvis_classes(report: LayoutReport, summary: DatasetSummary,
                          cats: List[dict]) -> None:
    names = [c.get('name') for c in cats]
    table = {1203: 'lvis_v1', 1230: 'lvis_v05'}.get(len(names))
    if table is None:
        report.warnings.append(
            f'{summary.ann_file}: {len(names)} categories, neither LVIS v1 (1203) nor v0.5 '
            f'(1230): the packaged per-class tables (e.g. IIF stats=\'lvis_v1\') do not apply')
        return
    ref = ClassStats.load(table)
    diff = [(i, a, b) for i, (a, b) in enumerate(zip(names, ref.classes)) if a != b]
    if diff:
        i, a, b = diff[0]
        report.problems.append(
            f'{summary.ann_file}: {len(diff)} category names differ from the packaged {table} '
            f'table (first: label {i} is {a!r}, the table has {b!r})')
        return
    summary.notes.append(f'categories = the packaged {table} table ({len(names)} classes)')
    stored = [c.get('image_count') for c in cats]
    if None not in stored and summary.where.startswith('train'):
        off = int(np.count_nonzero(np.asarray(stored) != ref.image_counts))
        if off:
            report.warnings.append(
                f'{summary.ann_file}: image_count of {off} categories differs from the '
                f'packaged {table} table (not the official training json?)')


def _check_lvis(report: LayoutReport, summary: DatasetSummary, limit: Optional[int],
                v1: bool, first_names: Optional[List[str]]) -> Optional[List[str]]:
    """Parse, count, check the images; compare the category names with the first LVIS json's
    (``first_names``) or, for the first one, with the packaged tables. Returns the names."""
    try:
        data = json.loads(read_text(summary.ann_file, 'json'))
    except ValueError as e:
        report.problems.append(f'{summary.ann_file}: not valid json ({e})')
        return first_names
    missing_keys = [k for k in ('images', 'annotations', 'categories') if k not in data]
    if missing_keys:
        report.problems.append(f'{summary.ann_file}: missing top-level field(s) {missing_keys}')
        return first_names
    cats = sorted(data['categories'], key=lambda c: c['id'])
    summary.num_images, summary.num_annotations = len(data['images']), len(data['annotations'])
    summary.num_classes = len(cats)
    _check_images(summary, [_lvis_image_path(img, v1) for img in data['images']], limit)
    names = [c.get('name') for c in cats]
    if first_names is None:
        _compare_lvis_classes(report, summary, cats)
    elif names != first_names:
        report.problems.append(f'{summary.ann_file}: its {len(names)} categories are not those '
                               f'of the first annotation file ({len(first_names)}): label '
                               'indices would mean different classes')
    return names


def read_image_list(path: str) -> Tuple[List[str], np.ndarray]:
    """Image paths and (N,) int labels of an mmpretrain ``path label`` list (blank lines
    skipped; a line without an integer label raises ``ValueError`` naming file and line)."""
    paths, labels = [], []
    for lineno, line in enumerate(read_text(path, 'annotation list').splitlines(), 1):
        if not line.strip():
            continue
        parts = line.strip().rsplit(maxsplit=1)
        try:
            labels.append(int(parts[1]))
        except (IndexError, ValueError):
            raise ValueError(f'{path}:{lineno}: expected "<path> <int label>", got '
                             f'{line.strip()!r}') from None
        paths.append(parts[0])
    return paths, np.asarray(labels, dtype=np.int64)


def _check_list(report: LayoutReport, summary: DatasetSummary, limit: Optional[int],
                num_classes: Optional[int]) -> None:
    try:
        paths, labels = read_image_list(summary.ann_file)
    except ValueError as e:
        report.problems.append(str(e))
        return
    summary.num_images = summary.num_annotations = len(paths)
    _check_images(summary, paths, limit)
    known = labels[labels >= 0]
    if len(known) < len(labels):
        summary.notes.append(f'{len(labels) - len(known):,} open-set images (label -1)')
    if not len(known):
        return
    summary.num_classes = int(known.max()) + 1
    if num_classes is not None and summary.num_classes > num_classes:
        report.problems.append(f'{summary.ann_file}: label {summary.num_classes - 1} but the '
                               f'model has {num_classes} classes')
    table = next((t for prefix, t in _LISTS
                  if osp.basename(summary.ann_file).startswith(prefix)), None)
    if table and osp.basename(summary.ann_file).endswith('_train.txt'):
        ref = ClassStats.load(table)
        if summary.num_classes != ref.num_classes:
            differ = f'{summary.num_classes} classes, the table has {ref.num_classes}'
        else:
            off = int(np.count_nonzero(np.bincount(known) != ref.image_counts))
            differ = f'{off} classes have other counts' if off else ''
        if differ:
            report.warnings.append(f'{summary.ann_file}: per-class image counts are not the '
                                   f'packaged {table} table\'s ({differ}): not the official '
                                   'split?')
        else:
            summary.notes.append(f'per-class counts = the packaged {table} table')


def _is_lvis_v1(ds: Mapping, ann_file: str) -> bool:
    return 'lvis_v1' in osp.basename(ann_file) or 'LVISV1' in str(ds.get('type', ''))


def _model_num_classes(cfg: Mapping) -> Optional[int]:
    """The classifier's class count (mmpretrain: head / data preprocessor), if the config says."""
    model = cfg.get('model') or {}
    for node in (model.get('head'), cfg.get('data_preprocessor'), model.get('data_preprocessor')):
        if isinstance(node, Mapping) and isinstance(node.get('num_classes'), int):
            return node['num_classes']
    return None


# ----------------------------------------------------------------------------- entry point
def check_layout(cfg: Mapping, full: bool = False, max_images: Optional[int] = None,
                 skip_under: Sequence[str] = ()) -> LayoutReport:
    """Check the data layout of a resolved config (see the module docstring).

    Args:
        cfg: the config (``Config`` or nested dicts); ``cfg.get('filename')`` names it.
        full: parse the annotation files, count, check images, compare class lists.
        max_images: with ``full``, check at most this many images per dataset (evenly spaced);
            ``None`` checks all.
        skip_under: folders whose content is generated later (the embedded data before its
            first generation): paths under them are not reported missing.

    Returns:
        A :class:`LayoutReport`; ``report.ok`` tells whether the run can start.
    """
    name = str(getattr(cfg, 'filename', None) or cfg.get('filename') or '<config>')
    report = LayoutReport(name)
    skip = [osp.abspath(p) for p in skip_under]

    def exists(what: str, path: str, where: str, folder: bool = False) -> bool:
        """Record ``path`` as missing unless it exists; paths under a folder already reported
        missing (or under ``skip_under``) are not reported again."""
        full_path = osp.abspath(path)
        gone = skip + [osp.abspath(p) for _, p, _ in report.missing]
        if any(full_path == g or full_path.startswith(g + osp.sep) for g in gone):
            return False
        found = osp.isdir(path) if folder else osp.isfile(path)
        if not found:
            report.missing.append((what, path, where))
        return found

    for key in ('data_root', 'work_dir', 'load_from'):
        if cfg.get(key):
            report.variables[key] = str(cfg[key])
    num_classes = _model_num_classes(cfg)
    lvis_names: Optional[List[str]] = None  # categories of the first LVIS json
    for where, ds in iter_datasets(cfg):
        root = ds.get('data_root') or ''
        ann_file = _resolved(root, ds.get('ann_file') or '')
        summary = DatasetSummary(where, _dataset_kind(ds, ann_file), ann_file, _image_root(ds))
        report.datasets.append(summary)
        if root and not exists('data root folder', root, f'{where}.data_root', folder=True):
            continue
        folder_ok = exists('image folder', summary.image_root or '.', f'{where}.data_prefix',
                           folder=True)
        if folder_ok and not full and summary.kind == 'lvis' and _is_lvis_v1(ds, ann_file):
            for sub in ('train2017', 'val2017'):  # LVIS v1 images come from both COCO splits
                exists('COCO 2017 image folder', osp.join(summary.image_root, sub),
                       f'{where}.data_prefix', folder=True)
        if not ann_file or not exists('annotation file', ann_file, f'{where}.ann_file'):
            continue
        if full and summary.kind == 'lvis':
            lvis_names = _check_lvis(report, summary, max_images, _is_lvis_v1(ds, ann_file),
                                     lvis_names)
        elif full and summary.kind == 'list':
            _check_list(report, summary, max_images, num_classes)
        if summary.num_missing_images:
            report.problems.append(
                f'{where}: {summary.num_missing_images:,} of {summary.images_checked:,} checked '
                f'images missing under {summary.image_root} (first: '
                f'{", ".join(summary.missing_images[:3])})')
    for what, path, where in referenced_files(cfg):
        exists(what, path, where, folder=what == 'sentence-transformers folder')
    return report


def require_complete_layout(cfg: Mapping) -> None:
    """The quick :func:`check_layout` of ``cfg``; raises :class:`DataLayoutError` naming every
    missing file (run by :func:`ltr_plugins.launch.build_runner` before the runner is built,
    so a wrong layout fails in seconds, not after the model and the dataloaders are set up)."""
    report = check_layout(cfg)
    if not report.ok:
        raise DataLayoutError(report.error_message())
