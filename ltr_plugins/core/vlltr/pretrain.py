"""VL-LTR stage 1: class-wise contrastive loss (L_lin), contrastive distillation (L_dis) and
their DDP-gathered, weighted sum (:func:`vlltr_pretrain_losses`)."""
from __future__ import annotations

from typing import Dict, Optional

import torch
import torch.nn.functional as F

from ..cosine import cosine_logits
from ..distributed import all_gather_with_grad


def soft_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean over rows of ``-sum_j target_ij * log_softmax(logits)_ij``."""
    return -(target * F.log_softmax(logits, dim=1)).sum(1).mean()


def classwise_targets(row_labels: torch.Tensor, col_labels: torch.Tensor,
                      smoothing: float = 0.0) -> torch.Tensor:
    """Class-wise contrastive targets (R, K): row i spreads mass ``1 - smoothing`` uniformly over
    the columns of its class and ``smoothing`` uniformly over all K columns.

    Every row must have at least one column of its class (true for an image -> text and a
    text -> image batch built from (image, sentence-of-its-class) pairs).
    """
    pos = (row_labels[:, None] == col_labels[None, :]).to(torch.float32)
    n_pos = pos.sum(1, keepdim=True)
    if bool((n_pos == 0).any()):
        raise ValueError('classwise_targets: a row has no column of its class')
    return (1 - smoothing) * pos / n_pos + smoothing / pos.shape[1]


def contrastive_logits(image_emb: torch.Tensor, text_emb: torch.Tensor,
                       logit_scale: torch.Tensor) -> torch.Tensor:
    """(N_img, N_txt) similarities ``exp(logit_scale) * cos(image_i, text_j)``."""
    return cosine_logits(image_emb, text_emb, scale=logit_scale.exp())


def classwise_contrastive_loss(logits: torch.Tensor, image_labels: torch.Tensor,
                               text_labels: torch.Tensor,
                               smoothing: float = 0.1) -> torch.Tensor:
    """L_lin: mean of the image->text and text->image soft-target CE with class-wise targets.

    Args:
        logits: (N_img, N_txt) from :func:`contrastive_logits`.
        image_labels: (N_img,) classes of the images; text_labels: (N_txt,) of the sentences.
        smoothing: label smoothing epsilon (reference 0.1).
    """
    i2t = soft_cross_entropy(logits, classwise_targets(image_labels, text_labels, smoothing))
    t2i = soft_cross_entropy(logits.t(), classwise_targets(text_labels, image_labels, smoothing))
    return (i2t + t2i) / 2


def contrastive_distillation_loss(logits: torch.Tensor,
                                  teacher_logits: torch.Tensor) -> torch.Tensor:
    """L_dis: soft-target CE towards the teacher's softmax (no temperature), both directions."""
    teacher_logits = teacher_logits.detach()
    i2t = soft_cross_entropy(logits, F.softmax(teacher_logits, dim=1))
    t2i = soft_cross_entropy(logits.t(), F.softmax(teacher_logits.t(), dim=1))
    return (i2t + t2i) / 2


def vlltr_pretrain_losses(image_emb: torch.Tensor, text_emb: torch.Tensor,
                          labels: torch.Tensor, logit_scale: torch.Tensor,
                          teacher_image_emb: Optional[torch.Tensor] = None,
                          teacher_text_emb: Optional[torch.Tensor] = None,
                          teacher_logit_scale: Optional[torch.Tensor] = None,
                          beta: float = 0.5, smoothing: float = 0.1) -> Dict[str, torch.Tensor]:
    """Stage-1 losses over the global (all-gathered) batch.

    Args:
        image_emb: (B, D) image embeddings of this rank; text_emb: (B, D) embeddings of one
            sentence of each image's class; labels: (B,) their class.
        logit_scale: scalar, log of the similarity scale.
        teacher_*: the same from the frozen initial model (needed when ``beta > 0``).
        beta: weight of L_dis: ``(1 - beta) * L_lin + beta * L_dis``.
        smoothing: label smoothing of L_lin.

    Returns:
        ``{'loss_lin': (1 - beta) * L_lin, 'loss_dis': beta * L_dis}`` (weighted, so that their
        sum is the loss); ``loss_dis`` is absent when ``beta == 0``.
    """
    image_emb, text_emb = all_gather_with_grad(image_emb), all_gather_with_grad(text_emb)
    labels = all_gather_with_grad(labels)
    logits = contrastive_logits(image_emb, text_emb, logit_scale)
    losses = {'loss_lin': (1 - beta) * classwise_contrastive_loss(logits, labels, labels,
                                                                  smoothing)}
    if beta > 0:
        if teacher_image_emb is None or teacher_text_emb is None or teacher_logit_scale is None:
            raise ValueError('beta > 0 needs the teacher image / text embeddings and scale')
        with torch.no_grad():
            teacher_logits = contrastive_logits(all_gather_with_grad(teacher_image_emb),
                                                all_gather_with_grad(teacher_text_emb),
                                                teacher_logit_scale)
        losses['loss_dis'] = beta * contrastive_distillation_loss(logits, teacher_logits)
    return losses
