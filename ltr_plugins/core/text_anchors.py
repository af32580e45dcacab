"""VL-LTR anchor sentences without a stage-1 model: the text-only selection rule.

AnSS (:func:`ltr_plugins.core.vlltr.anchor_sentence_scores`) ranks a class's sentences by how
well they match the class's images under a stage-1 model. Without one (e.g. LVIS, where no
stage-1 model covers the 1203 classes), this module ranks them by text alone:

    score(s) = -cos(t_s, m_c),   m_c = mean_{s' in class c} t_s' / |t_s'|

(t = the text encoder's sentence embedding): the M sentences closest to the centroid of their
class's normalised sentence embeddings are the anchors -- the most typical descriptions of the
class; off-topic sentences (far from the centroid) are dropped first. Ties keep corpus order
(templates first). The anchors are the raw, unnormalised encoder embeddings (D = encoder dim);
the LGR head learns the projection of the image / RoI features to D. Without a stage-1 model
there is no learned similarity scale either: :data:`TEXT_ONLY_LOGIT_SCALE` = log(1 / 0.07),
the stage-1 initialisation (CLIP's), is written unless another is given.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F

from .vlltr import AnchorEmbeddings, select_anchor_indices

__all__ = ['TEXT_ONLY_METHOD', 'TEXT_ONLY_LOGIT_SCALE', 'text_centroid_scores',
           'text_only_anchors']

#: method name written into the anchor file's metadata
TEXT_ONLY_METHOD = 'text_centroid'
#: log similarity scale of text-only anchors (the stage-1 / CLIP initialisation)
TEXT_ONLY_LOGIT_SCALE = math.log(1 / 0.07)


@torch.no_grad()
def text_centroid_scores(text_emb: torch.Tensor, text_labels: torch.Tensor,
                         num_classes: int) -> torch.Tensor:
    """(S,) scores ``-cos(t_s, m_c(s))`` (lower is better; see the module docstring).

    Args:
        text_emb: (S, D) sentence embeddings; text_labels: (S,) their classes in [0, C).
        num_classes: C. A class without sentences raises ``ValueError``.
    """
    counts = torch.bincount(text_labels, minlength=num_classes)
    if bool((counts == 0).any()):
        raise ValueError(f'class(es) {torch.nonzero(counts == 0)[:10, 0].tolist()} have no '
                         'sentence')
    unit = F.normalize(text_emb.double(), dim=-1)
    centroids = torch.zeros(num_classes, unit.shape[1], dtype=unit.dtype)
    centroids.index_add_(0, text_labels, unit)
    centroids = centroids / counts[:, None]
    return -F.cosine_similarity(unit, centroids[text_labels], dim=-1).float()


def text_only_anchors(text_emb: torch.Tensor, text_labels: torch.Tensor,
                      class_names: Sequence[str], num_anchors: int,
                      logit_scale: float = TEXT_ONLY_LOGIT_SCALE,
                      encoder: str = '') -> AnchorEmbeddings:
    """Anchors of C = ``len(class_names)`` classes chosen by :func:`text_centroid_scores`.

    Args:
        text_emb: (S, D) sentence embeddings (unnormalised, as the encoder gives them).
        text_labels: (S,) class of each sentence.
        class_names: the C names, in label order.
        num_anchors: M; a class with fewer sentences repeats its ranked list cyclically
            (:func:`~ltr_plugins.core.vlltr.select_anchor_indices`).
        logit_scale: log similarity scale stored with the anchors.
        encoder: text encoder description for the file's metadata.

    Returns:
        :class:`~ltr_plugins.core.vlltr.AnchorEmbeddings` with (C, M, D) anchors and method
        :data:`TEXT_ONLY_METHOD`.
    """
    scores = text_centroid_scores(text_emb, text_labels, len(class_names))
    # 'anss' in select_anchor_indices = "keep the M lowest scores": here the centroid scores
    idx = select_anchor_indices(text_labels, len(class_names), num_anchors, 'anss', scores)
    return AnchorEmbeddings(text_emb[idx].float(), list(class_names), float(logit_scale),
                            TEXT_ONLY_METHOD, encoder)
