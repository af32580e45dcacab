"""VL-LTR class text corpora: the on-disk format (:func:`load_class_texts`), sentence
splitting and class-name lists."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import List, Sequence, Tuple, Union

import torch

from ...fileio import read_text

CLASS_TEXTS_FORMAT = 'ltr_plugins.class_texts/1'

_SENTENCE_END = re.compile(r'(?<=[.!?])\s+(?=[A-Z0-9"\'(])')


def split_sentences(text: str) -> List[str]:
    """Split free text into sentences at ``.``/``!``/``?`` followed by whitespace and an
    upper-case letter, digit or opening quote (so ``"e.g. a"`` stays whole); strips blanks."""
    return [s.strip() for s in _SENTENCE_END.split(text.strip()) if s.strip()]


def class_display_name(name: str) -> str:
    """Template name of a class: underscores become spaces (``black_star`` -> ``black star``)."""
    return name.replace('_', ' ')


def load_class_texts(path: Union[str, Path], class_names: Sequence[str]) -> List[List[str]]:
    """Read a class text corpus and return, for each of ``class_names`` in order, its sentences:
    the prompt templates filled with the class name first, then its description sentences.

    File format (json, one object)::

        {"format": "ltr_plugins.class_texts/1",
         "templates": ["a photo of a {}.", ...],          # '{}' is replaced by the class name
         "classes": {"<class name>": {"display_name": "...",   # optional, for the templates
                                      "text": "free description ...",   # split into sentences
                                      "sentences": ["...", ...]},       # taken as they are
                     ...}}

    ``text`` and ``sentences`` are both optional (``text`` sentences come first); every class
    has at least the templates. A class of ``class_names`` missing from the file, a template
    without ``{}`` or a malformed file raises ``ValueError`` naming the file and the field.
    """
    path = Path(path)
    try:
        data = json.loads(read_text(path, 'class text corpus'))
    except FileNotFoundError:
        raise FileNotFoundError(f'class text corpus {str(path)!r} does not exist') from None
    except ValueError as e:
        raise ValueError(f'{path}: not valid json ({e})') from None
    if not isinstance(data, dict) or data.get('format') != CLASS_TEXTS_FORMAT:
        raise ValueError(f'{path}: "format" must be {CLASS_TEXTS_FORMAT!r}')
    templates = data.get('templates', [])
    if not isinstance(templates, list) or not all(
            isinstance(t, str) and '{}' in t for t in templates):
        raise ValueError(f'{path}: "templates" must be a list of strings containing "{{}}"')
    classes = data.get('classes')
    if not isinstance(classes, dict):
        raise ValueError(f'{path}: "classes" must be an object mapping class name -> entry')
    missing = [n for n in class_names if n not in classes]
    if missing:
        raise ValueError(f'{path}: no entry for class(es) {missing[:5]}'
                         f'{" ..." if len(missing) > 5 else ""} ({len(missing)} missing)')
    corpora = []
    for name in class_names:
        entry = classes[name]
        if not isinstance(entry, dict):
            raise ValueError(f'{path}: classes[{name!r}] must be an object')
        display = entry.get('display_name', class_display_name(name))
        sentences = [t.replace('{}', display) for t in templates]
        sentences += split_sentences(entry.get('text', ''))
        extra = entry.get('sentences', [])
        if not isinstance(extra, list) or not all(isinstance(s, str) for s in extra):
            raise ValueError(f'{path}: classes[{name!r}].sentences must be a list of strings')
        sentences += [s.strip() for s in extra if s.strip()]
        if not sentences:
            raise ValueError(f'{path}: class {name!r} has no sentence (no templates either)')
        corpora.append(sentences)
    return corpora


def read_class_names(source: Union[str, Path, Sequence[str]]) -> List[str]:
    """Class names in label order from a list, a text file (one name per line, e.g. the
    embedded data's ``classes.txt``) or an LVIS / COCO json (``categories`` sorted by id)."""
    if not isinstance(source, (str, Path)):
        return [str(n) for n in source]
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f'class name file {str(path)!r} does not exist')
    if path.suffix == '.json':
        try:
            cats = json.loads(read_text(path, 'json')).get('categories')
        except json.JSONDecodeError as e:
            raise ValueError(f'{path}: not valid json ({e})') from None
        if not cats:
            raise ValueError(f'{path}: no "categories" to read class names from')
        return [c['name'] for c in sorted(cats, key=lambda c: c['id'])]
    return [line.strip() for line in read_text(path, 'class name list').splitlines()
            if line.strip()]


def flatten_corpora(corpora: Sequence[Sequence[str]]) -> Tuple[List[str], torch.Tensor]:
    """All sentences in class order and the (S,) class label of each."""
    sentences = [s for c in corpora for s in c]
    labels = torch.tensor([i for i, c in enumerate(corpora) for _ in c], dtype=torch.long)
    return sentences, labels
