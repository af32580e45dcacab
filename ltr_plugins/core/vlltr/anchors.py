"""The VL-LTR anchor embedding file (safetensors): :class:`AnchorEmbeddings`,
:func:`save_anchor_embeddings`, :func:`load_anchor_embeddings`."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Union

import torch

from ...fileio import atomic_write_bytes

ANCHOR_FORMAT = 'ltr_plugins.vlltr_anchors/1'


@dataclass
class AnchorEmbeddings:
    """Anchor sentence embeddings of C classes: ``anchors`` (C, M, D), unnormalised."""
    anchors: torch.Tensor
    class_names: List[str]
    logit_scale: float
    method: str = 'anss'
    encoder: str = ''

    @property
    def num_anchors(self) -> int:
        """M, anchors per class."""
        return int(self.anchors.shape[1])


def save_anchor_embeddings(path: Union[str, Path], emb: AnchorEmbeddings) -> None:
    """Write ``emb`` as a safetensors file (tensor ``anchors``; class names, M, D, logit scale,
    method and encoder in its metadata), atomically."""
    from safetensors.torch import save
    c, m, d = emb.anchors.shape
    if len(emb.class_names) != c:
        raise ValueError(f'{len(emb.class_names)} class names for {c} anchor rows')
    meta = dict(format=ANCHOR_FORMAT, class_names=json.dumps(list(emb.class_names)),
                num_classes=str(c), num_anchors=str(m), dim=str(d),
                logit_scale=repr(float(emb.logit_scale)), method=emb.method, encoder=emb.encoder)
    atomic_write_bytes(path, save({'anchors': emb.anchors.detach().float().contiguous().cpu()},
                                  metadata=meta))


def load_anchor_embeddings(path: Union[str, Path], num_classes: Optional[int] = None,
                           num_anchors: Optional[int] = None,
                           dim: Optional[int] = None) -> AnchorEmbeddings:
    """Read an anchor file written by :func:`save_anchor_embeddings`.

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` (naming the file) for a
    corrupt one, one of another format, or one whose class count / M / D differs from the
    given expectation.
    """
    from safetensors import safe_open
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'anchor embedding file {str(path)!r} does not exist; write it '
                                'with tools/vlltr/select_anchor_sentences.py')
    try:
        with safe_open(str(path), framework='pt') as f:
            meta = f.metadata() or {}
            anchors = f.get_tensor('anchors')
        if meta.get('format') != ANCHOR_FORMAT:
            raise ValueError(f'metadata format is {meta.get("format")!r}, not {ANCHOR_FORMAT!r}')
        class_names = json.loads(meta['class_names'])
        logit_scale = float(meta['logit_scale'])
        declared = (int(meta['num_classes']), int(meta['num_anchors']), int(meta['dim']))
    except Exception as e:  # safetensors raises its own error types for damaged files
        raise ValueError(f'{path}: not a valid VL-LTR anchor embedding file ({e})') from None
    if anchors.dim() != 3 or tuple(anchors.shape) != declared or len(class_names) != declared[0]:
        raise ValueError(f'{path}: anchors have shape {tuple(anchors.shape)} but the metadata '
                         f'declares (C, M, D) = {declared} and {len(class_names)} class names')
    for name, want, got in (('classes', num_classes, declared[0]),
                            ('anchors per class (M)', num_anchors, declared[1]),
                            ('embedding dim (D)', dim, declared[2])):
        if want is not None and want != got:
            raise ValueError(f'{path}: has {got} {name} but the model expects {want}')
    return AnchorEmbeddings(anchors.float(), class_names, logit_scale,
                            meta.get('method', ''), meta.get('encoder', ''))
