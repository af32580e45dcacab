"""VL-LTR anchor sentence selection (AnSS): score every class sentence by its text->image
contrastive loss and keep the M best of each class."""
from __future__ import annotations

from typing import Optional, Union

import torch
import torch.nn.functional as F


@torch.no_grad()
def anchor_sentence_scores(text_emb: torch.Tensor, text_labels: torch.Tensor,
                           image_emb: torch.Tensor, image_labels: torch.Tensor,
                           logit_scale: Union[float, torch.Tensor],
                           chunk_size: int = 4096) -> torch.Tensor:
    """AnSS score of every sentence: its text->image contrastive loss against its class's images.

    ``score(s) = -mean_{i: y_i = c(s)} log softmax_i(exp(logit_scale) * cos(t_s, f_i))`` where the
    softmax runs over all N images of the selection split. Lower is better.

    Args:
        text_emb: (S, D) sentence embeddings; text_labels: (S,) their classes.
        image_emb: (N, D) image embeddings; image_labels: (N,) their classes.
        logit_scale: log of the similarity scale.
        chunk_size: sentences per block (memory is ``chunk_size x N``).

    Returns:
        (S,) float scores. A sentence whose class has no image raises ``ValueError``.
    """
    num_classes = int(max(text_labels.max(), image_labels.max())) + 1
    counts = torch.bincount(image_labels, minlength=num_classes).double()
    no_image = sorted(set(text_labels.tolist()) - set(image_labels.tolist()))
    if no_image:
        raise ValueError(f'AnSS: class(es) {no_image[:10]} have sentences but no image in the '
                         'selection split')
    scale = torch.as_tensor(logit_scale, dtype=torch.float64).exp()
    images = F.normalize(image_emb.double(), dim=-1)
    onehot = F.one_hot(image_labels, num_classes).double() / counts  # (N, C) class means
    out = []
    for start in range(0, text_emb.shape[0], chunk_size):
        t = F.normalize(text_emb[start:start + chunk_size].double(), dim=-1)
        lab = text_labels[start:start + chunk_size]
        logp = scale * t @ images.t()
        logp = logp - torch.logsumexp(logp, dim=1, keepdim=True)  # (s, N) log softmax
        out.append(-(logp @ onehot).gather(1, lab[:, None])[:, 0])
    return torch.cat(out).float()


SELECTION_METHODS = ('anss', 'random', 'first')


def select_anchor_indices(text_labels: torch.Tensor, num_classes: int, num_anchors: int,
                          method: str = 'anss', scores: Optional[torch.Tensor] = None,
                          seed: int = 0) -> torch.Tensor:
    """(C, M) indices into the sentence list: the M anchors of each class.

    ``'anss'`` keeps the M lowest ``scores`` (ties: corpus order), ``'first'`` the first M in
    corpus order (the templates come first), ``'random'`` M drawn without replacement with a
    generator seeded by ``seed``. A class with fewer than M sentences repeats its ranked list
    cyclically (so each of its sentences is used about equally often); a class without
    sentences raises ``ValueError``.
    """
    if method not in SELECTION_METHODS:
        raise ValueError(f'unknown selection method {method!r}; choose one of '
                         f'{SELECTION_METHODS}')
    if method == 'anss' and scores is None:
        raise ValueError("method 'anss' needs the sentence scores")
    gen = torch.Generator().manual_seed(seed)
    rows = []
    for c in range(num_classes):
        idx = torch.nonzero(text_labels == c)[:, 0]
        if idx.numel() == 0:
            raise ValueError(f'class {c} has no sentence')
        if method == 'anss':
            idx = idx[torch.sort(scores[idx], stable=True).indices]
        elif method == 'random':
            idx = idx[torch.randperm(idx.numel(), generator=gen)]
        rows.append(idx[torch.arange(num_anchors) % idx.numel()])
    return torch.stack(rows)
