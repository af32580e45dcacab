"""Build VL-LTR class text corpora (``ltr_plugins.class_texts/1``) from what a user has.

* LVIS (v1 / v0.5 json): per category its name, synonyms and WordNet definition (``def``), in
  the json's label order (ascending id) -- :func:`lvis_class_texts`.
* ImageNet-LT / Places-LT: a class-name list (:func:`ltr_plugins.core.vlltr.read_class_names`,
  or :func:`class_names_from_list` for lists whose folders name the classes, as Places-LT's)
  plus optional descriptions -- :func:`named_class_texts`; descriptions from a json
  ``{class name: text or [sentences]}`` (:func:`read_descriptions`) or the VL-LTR release's
  text corpus (``labels.txt`` + ``wiki/desc_<i>.txt``, :func:`read_vlltr_release`).

Every class gets the prompt templates filled with its display name (the corpus format puts them
first); the format and its reader are in :mod:`ltr_plugins.core.vlltr`
(:func:`~ltr_plugins.core.vlltr.load_class_texts`). Framework-free (json only).
"""
from __future__ import annotations

import json
import os.path as osp
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

from ..core.vlltr import CLASS_TEXTS_FORMAT, class_display_name
from ..fileio import read_text
from .layout_check import read_image_list

__all__ = ['DEFAULT_TEMPLATES', 'lvis_class_texts', 'named_class_texts', 'read_descriptions',
           'read_vlltr_release', 'class_names_from_list', 'read_templates']

#: "a photo of a {}." and the 7 templates CLIP's authors selected from their 80 ImageNet
#: prompts (openai/CLIP, notebooks/Prompt_Engineering_for_ImageNet.ipynb).
DEFAULT_TEMPLATES: Tuple[str, ...] = (
    'a photo of a {}.', 'itap of a {}.', 'a bad photo of the {}.', 'a origami {}.',
    'a photo of the large {}.', 'a {} in a video game.', 'art of the {}.',
    'a photo of the small {}.')
#: wiki sections the VL-LTR release's reader drops (ChangyaoTian/VL-LTR, mcloader/preprocess.py)
_DROPPED_WIKI_SECTIONS = ('External links', 'References', 'Further reading', 'Bibliography')

PathLike = Union[str, Path]


def _corpus(templates: Sequence[str], classes: Dict[str, dict]) -> dict:
    bad = [t for t in templates if '{}' not in t]
    if bad:
        raise ValueError(f'template {bad[0]!r} has no "{{}}" for the class name')
    return dict(format=CLASS_TEXTS_FORMAT, templates=list(templates), classes=classes)


def lvis_class_texts(categories: Sequence[Mapping],
                     templates: Sequence[str] = DEFAULT_TEMPLATES) -> dict:
    """Corpus of LVIS categories (the json's ``categories`` list, any order).

    Per category: ``display_name`` = name with ``_`` -> space (LVIS disambiguations such as
    ``bow_(weapon)`` stay: ``bow (weapon)``); ``sentences`` = the first template filled with
    each synonym other than the name, then ``"<display name>, which is <def>."``. Keys are the
    category names, as :func:`~ltr_plugins.core.vlltr.read_class_names` reads them from the json.
    """
    classes: Dict[str, dict] = {}
    for cat in sorted(categories, key=lambda c: c['id']):
        name = cat.get('name')
        if not name:
            raise ValueError(f'LVIS category id {cat.get("id")} has no name')
        display = class_display_name(name)
        synonyms = []
        for syn in cat.get('synonyms', []):
            syn = class_display_name(syn).strip()
            if syn and syn != display and syn not in synonyms:
                synonyms.append(syn)
        sentences = [templates[0].replace('{}', syn) for syn in synonyms[:8] if templates]
        definition = str(cat.get('def', '')).strip().rstrip('.')
        if definition:
            sentences.append(f'{display}, which is {definition}.')
        classes[name] = dict(display_name=display, sentences=sentences)
    return _corpus(templates, classes)


def named_class_texts(names: Sequence[str], templates: Sequence[str] = DEFAULT_TEMPLATES,
                      descriptions: Optional[Mapping[str, Union[str, Sequence[str]]]] = None,
                      display_names: Optional[Mapping[str, str]] = None) -> dict:
    """Corpus of classes known by name: the templates, plus ``descriptions[name]`` (free text,
    split into sentences by the reader, or a list of sentences) where given.

    Args:
        names: class names in label order (the corpus keys).
        templates: prompt templates with ``{}``.
        descriptions: optional class name -> description; names absent from it get only the
            templates, names not in ``names`` raise ``ValueError`` (a typo would go unnoticed).
        display_names: optional class name -> name used in the templates (default: ``_`` ->
            space).
    """
    descriptions = dict(descriptions or {})
    unknown = sorted(set(descriptions) - set(names))
    if unknown:
        raise ValueError(f'descriptions for class(es) not in the class list: {unknown[:5]}')
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if list(names).count(n) > 1})
        raise ValueError(f'duplicate class name(s) {dup[:5]}')
    classes = {}
    for name in names:
        entry = dict(display_name=(display_names or {}).get(name, class_display_name(name)))
        desc = descriptions.get(name)
        if isinstance(desc, str):
            entry['text'] = desc
        elif desc is not None:
            entry['sentences'] = [str(s) for s in desc]
        classes[name] = entry
    return _corpus(templates, classes)


def read_descriptions(path: PathLike) -> Dict[str, Union[str, List[str]]]:
    """A user corpus: json object ``{class name: text or [sentences]}``."""
    try:
        data = json.loads(read_text(path, 'description corpus'))
    except ValueError as e:
        raise ValueError(f'{path}: not valid json ({e})') from None
    if not isinstance(data, dict) or not all(
            isinstance(v, str) or (isinstance(v, list) and all(isinstance(s, str) for s in v))
            for v in data.values()):
        raise ValueError(f'{path}: expected a json object {{class name: text or [sentences]}}')
    return data


def _wiki_text(path: Path) -> str:
    """Text of a VL-LTR ``desc_<i>.txt``: ``== Section ==`` headings dropped, and the
    reference / link sections with them (as the release's reader)."""
    try:
        raw = path.read_text(encoding='utf-8')
    except UnicodeDecodeError:
        raw = path.read_text(encoding='gbk')  # some release files are GBK-encoded
    keep, parts = True, []
    for line in (ln.strip() for ln in raw.splitlines()):
        if line.startswith('=='):
            keep = line.strip('= ') not in _DROPPED_WIKI_SECTIONS
        elif line and keep:
            parts.append(line)
    return ' '.join(parts)


def _folder_class_name(parts: Sequence[str]) -> str:
    """Places365 class of a folder path: single-letter (alphabetical bucket) and empty
    components dropped, ``/`` kept (``['a', 'apartment_building', 'outdoor']`` ->
    ``apartment_building/outdoor``)."""
    return '/'.join(p for p in parts if len(p) > 1)


def _folder_display_name(name: str) -> str:
    """``apartment_building/outdoor`` -> ``apartment building outdoor``."""
    return ' '.join(name.replace('_', ' ').replace('/', ' ').split())


def read_vlltr_release(root: PathLike) -> Tuple[List[str], Dict[str, str], Dict[str, str]]:
    """Class names (label order), descriptions and display names from the VL-LTR release's
    text corpus (``imagenet.zip`` / ``places.zip``): ``root/labels.txt`` and
    ``root/wiki/desc_<i>.txt`` (i = label).

    ``labels.txt`` lines are ``<wnid> <index> <name>`` (ImageNet; label order = sorted wnids)
    or ``<name> <label>`` (Places: ``/a/apartment_building/outdoor`` -> the class
    ``apartment_building/outdoor``, as :func:`class_names_from_list` names it). Names
    that occur twice (ImageNet's two "crane"s) get their wnid appended to stay unique keys; the
    display name stays the plain name.
    """
    root = Path(root)
    rows = [ln.split() for ln in read_text(root / 'labels.txt', 'VL-LTR labels.txt').splitlines()
            if ln.strip()]
    if rows and all(len(r) == 3 for r in rows):
        rows.sort(key=lambda r: r[0])
        keys, display = [r[2] for r in rows], [class_display_name(r[2]) for r in rows]
        wnids = [r[0] for r in rows]
    elif rows and all(len(r) == 2 for r in rows):
        rows.sort(key=lambda r: int(r[1]))
        keys = [_folder_class_name(r[0].split('/')) for r in rows]
        display = [_folder_display_name(k) for k in keys]
        wnids = [str(r[1]) for r in rows]
    else:
        raise ValueError(f'{root / "labels.txt"}: expected lines "<wnid> <index> <name>" or '
                         '"<name> <label>"')
    seen = {k: keys.count(k) for k in keys}
    keys = [f'{k}_{w}' if seen[k] > 1 else k for k, w in zip(keys, wnids)]
    texts, names = {}, {}
    for i, (key, disp) in enumerate(zip(keys, display)):
        desc = root / 'wiki' / f'desc_{i}.txt'
        if desc.is_file():
            texts[key] = _wiki_text(desc)
        names[key] = disp
    if not texts:
        raise FileNotFoundError(f'{root / "wiki"}: no desc_<i>.txt files (extract the VL-LTR '
                                'text corpus there)')
    return keys, texts, names


def class_names_from_list(ann_file: PathLike) -> Tuple[List[str], Dict[str, str]]:
    """Class names (label order) and display names from an mmpretrain ``path label`` list whose
    image folders name the classes (Places-LT: ``data_256/a/airfield/x.jpg`` -> ``airfield``,
    ``data_256/a/apartment_building/outdoor/x.jpg`` -> ``apartment_building/outdoor``): the
    folder of each label's first image, without the first component (the split folder) and
    single-letter components (Places365's alphabetical buckets). Every label 0..K-1 needs an
    image; two labels with one folder raise ``ValueError``."""
    folders: Dict[int, str] = {}
    for path, label in zip(*read_image_list(str(ann_file))):
        folders.setdefault(int(label), _folder_class_name(osp.dirname(path).split('/')[1:]))
    labels = sorted(k for k in folders if k >= 0)
    if labels != list(range(len(labels))):
        raise ValueError(f'{ann_file}: labels are not 0..K-1 (no image for some label)')
    names = [folders[k] for k in labels]
    if not all(names) or len(set(names)) != len(names):
        raise ValueError(f'{ann_file}: the image folders do not name the classes uniquely; '
                         'give a class-name file instead')
    return names, {n: _folder_display_name(n) for n in names}


def read_templates(path: PathLike) -> List[str]:
    """Prompt templates, one per line, each with ``{}`` (blank lines and ``#`` lines skipped)."""
    lines = [ln.strip() for ln in read_text(path, 'template file').splitlines()]
    templates = [ln for ln in lines if ln and not ln.startswith('#')]
    bad = [t for t in templates if '{}' not in t]
    if bad or not templates:
        raise ValueError(f'{path}: every template needs "{{}}" (got {bad[:2] or "none"})')
    return templates
