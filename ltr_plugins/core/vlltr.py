"""VL-LTR (Tian et al., ECCV 2022): class-wise visual-linguistic pretraining, anchor sentence
selection (AnSS) and the language-guided recognition (LGR) head, on plain tensors.

Pieces (formulas in docs/methods/vlltr.md):

* class text corpora: :func:`load_class_texts` reads the on-disk format, :func:`split_sentences`
  splits free text;
* stage 1: :func:`classwise_contrastive_loss` (every same-class image/text pair is a positive,
  label smoothing, both directions), :func:`contrastive_distillation_loss` (soft targets from a
  frozen teacher, both directions), :func:`vlltr_pretrain_losses` (gathers across DDP ranks and
  weights them ``(1 - beta) * L_lin + beta * L_dis``);
* AnSS: :func:`anchor_sentence_scores`, :func:`select_anchor_indices`, and the anchor file
  (:func:`save_anchor_embeddings` / :func:`load_anchor_embeddings`, safetensors);
* stage 2: :class:`LanguageGuidedClassifier` (attention over each class's anchor sentences, a
  language and a visual branch, optional learned background embedding) and
  :func:`fuse_branch_scores` (alpha-fusion at inference); :func:`sample_class_subset` (the
  optional class subset of the language branch in detection training).
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn

from ..fileio import read_text
from .cosine import cosine_logits, l2_normalize
from .distributed import all_gather_with_grad

# ----------------------------------------------------------------------------- class texts
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


# ----------------------------------------------------------------------------- stage 1
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


# ----------------------------------------------------------------------------- AnSS
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


# ----------------------------------------------------------------------------- anchor file
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

    from ..fileio import atomic_write_bytes
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


# ----------------------------------------------------------------------------- stage 2
class LanguageGuidedClassifier(nn.Module):
    """The LGR head: a language branch attending over each class's anchor sentences and a
    visual MLP branch.

    With image feature f (B, D) and frozen anchors T (C, M, D):
    ``q = W_q LN(f)``, ``k_cm = W_k LN(T_cm)``, ``a_cm = softmax_m(q . k_cm / sqrt(D))``,
    ``v_c = sum_m a_cm T_cm`` (values: the raw anchors), language logits
    ``z2_c = s * cos(f, v_c)`` with the pretrained, frozen scale s, and visual logits
    ``z1 = Linear(hD -> C')(ReLU(Linear(D -> hD)(f)))`` (h = ``hidden_ratio``).
    W_q, W_k start at the identity, without bias.

    With ``background=True`` (detection) a learned background embedding b (D) adds a last
    language logit ``s * cos(f, b)`` and the visual branch has C + 1 outputs, so both branches
    give (B, C + 1) logits with the background last (mmdet's convention).

    The language logits are computed without materialising v (B, C, D) or k (C, M, D):
    ``f . v_c = sum_m a_cm (f . T_cm)``, ``|v_c|^2 = a_c^T G_c a_c`` with the cached Gram
    matrices ``G_c = T_c T_c^T``, and ``q . k_cm = (W_k^T W_q LN(f)) . LN(T_cm)`` with LN(T)
    from a cached normalisation (see :meth:`attention`); the cost is O(B C M D) per step instead
    of O(B C D (M + D) + C M D^2). :meth:`attention` exposes the weights for tests.

    Args:
        anchors: (C, M, D) anchor embeddings (stored as a buffer, saved in checkpoints).
        logit_scale: log of s (from pretraining; a buffer, not trained).
        hidden_ratio: width of the visual MLP as a multiple of D (reference 4).
        background: add the learned background embedding / output.
    """

    def __init__(self, anchors: torch.Tensor, logit_scale: float, hidden_ratio: int = 4,
                 background: bool = False) -> None:
        super().__init__()
        if anchors.dim() != 3:
            raise ValueError(f'anchors must be (C, M, D), got shape {tuple(anchors.shape)}')
        num_classes, _, dim = anchors.shape
        self.dim = dim
        self.register_buffer('anchors', anchors.detach().clone().float())
        self.register_buffer('logit_scale', torch.tensor(float(logit_scale)))
        self.query_norm = nn.LayerNorm(dim)
        self.key_norm = nn.LayerNorm(dim)
        self.query = nn.Linear(dim, dim, bias=False)
        self.key = nn.Linear(dim, dim, bias=False)
        num_out = num_classes + int(background)
        self.visual = nn.Sequential(nn.Linear(dim, hidden_ratio * dim), nn.ReLU(inplace=True),
                                    nn.Linear(hidden_ratio * dim, num_out))
        self.background = nn.Parameter(torch.randn(dim) * 0.02) if background else None
        self._cache: Optional[Tuple[torch.Tensor, torch.Tensor]] = None
        self._cache_key: Optional[tuple] = None
        self.reset_attention()

    def reset_attention(self) -> None:
        """W_q = W_k = identity (the reference's initialisation)."""
        with torch.no_grad():
            self.query.weight.copy_(torch.eye(self.dim))
            self.key.weight.copy_(torch.eye(self.dim))

    def attention(self, feats: torch.Tensor,
                  classes: Optional[torch.Tensor] = None) -> torch.Tensor:
        """(B, D) features -> (B, C, M) attention weights over each class's anchors (only the
        K classes of the (K,) index tensor ``classes`` if given: (B, K, M)).

        ``q . k_cm = u . LN(T_cm)`` with ``u = W_k^T W_q LN(f)``; and since the anchors are
        frozen, ``LN(T) = gamma * n + beta`` with the cached affine-free normalisation n, so
        ``u . LN(T_cm) = (gamma * u) . n_cm + beta . u``: no (C, M, D) tensor per step.
        """
        u = self.query(self.query_norm(feats)) @ self.key.weight       # (B, D) = (W_k^T q)^T
        _, normed = self.anchor_cache()
        if classes is not None:
            normed = normed[classes]
        scores = torch.einsum('cmd,bd->bcm', normed, u * self.key_norm.weight)
        scores = scores + (u @ self.key_norm.bias)[:, None, None]
        return (scores / math.sqrt(self.dim)).softmax(dim=-1)

    def anchor_cache(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """Functions of the frozen anchors alone, cached: the (C, M, M) Gram matrices
        ``T_c T_c^T`` and the (C, M, D) affine-free layer normalisation of T (they cost
        O(C M^2 D) and O(C M D), more than the rest of the head at small batches). The cache is
        keyed by the anchors' storage, version counter (bumped by any in-place write, e.g.
        ``load_state_dict``), device and dtype, so it is never stale."""
        a = self.anchors
        key = (a.data_ptr(), a._version, a.device, a.dtype)
        if self._cache_key != key:
            with torch.no_grad():
                self._cache = (torch.einsum('cmd,cnd->cmn', a, a),
                               F.layer_norm(a, (self.dim, ), eps=self.key_norm.eps))
            self._cache_key = key
        return self._cache

    def language_logits(self, feats: torch.Tensor,
                        classes: Optional[torch.Tensor] = None) -> torch.Tensor:
        """(B, D) -> (B, C [+1]) ``s * cos(f, v_c)`` (+ background), in ``feats.dtype``.

        With a (K,) index tensor ``classes`` only those classes' logits are computed,
        (B, K [+1]) in that order (background still last): the cost is O(B K M D) instead of
        O(B C M D) (see :func:`sample_class_subset`).

        Norms as in :func:`~ltr_plugins.core.cosine.l2_normalize`: float32, a zero feature
        (or a zero v_c) gives logit 0 with a finite gradient, also in bf16 / fp16."""
        eps = 1e-6
        attn = self.attention(feats, classes)
        unit = l2_normalize(feats, -1, eps).to(feats.dtype)          # (B, D), 0 for f = 0
        anchors, (gram, _) = self.anchors, self.anchor_cache()
        if classes is not None:
            anchors, gram = anchors[classes], gram[classes]
        f_dot_v = (attn * torch.einsum('cmd,bd->bcm', anchors.to(feats.dtype), unit)).sum(-1)
        v_norm_sq = torch.einsum('bcm,cmn,bcn->bc', attn, gram.to(attn.dtype), attn)
        # float32 (autocast may have run the einsums in bf16 / fp16, where eps^2 underflows);
        # a v_c of norm <= eps (a class without anchor direction) gives cos 0 and no gradient
        # (not the 1/eps one of a clamped denominator, which overflows fp16)
        v_norm_sq = v_norm_sq.float()
        cos = torch.where(v_norm_sq > eps * eps,
                          f_dot_v.float() / v_norm_sq.clamp_min(eps * eps).sqrt(), 0.0)
        scale = self.logit_scale.exp()
        logits = (scale * cos).to(feats.dtype)
        if self.background is not None:
            bg = cosine_logits(feats, self.background[None], scale=scale, eps=eps)
            logits = torch.cat([logits, bg.to(logits.dtype)], dim=1)
        return logits

    def forward(self, feats: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """(B, D) features -> (visual logits z1, language logits z2), each (B, C [+1])."""
        return self.visual(feats), self.language_logits(feats)


def sample_class_subset(present: torch.Tensor, num_classes: int, size: int,
                        generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """The classes a training step computes language logits for: every class in ``present``
    (any shape, foreground indices in ``[0, C)``; duplicates allowed) plus classes drawn
    uniformly without replacement from the others until there are ``size`` (all of them if
    fewer are left). Returns the sorted (K,) long indices, K = max(size, #present) capped at C.

    This is the class subset of a federated / sampled softmax: the loss over the subset has
    the same positives and a random share of the negatives (choice in docs/methods/vlltr.md).
    """
    if size < 1:
        raise ValueError(f'class subset size must be >= 1, got {size}')
    present = present.reshape(-1).long().cpu()
    if present.numel() and (present.min() < 0 or present.max() >= num_classes):
        raise ValueError(f'present classes must be in [0, {num_classes}), got '
                         f'{present.min().item()}..{present.max().item()}')
    mask = torch.zeros(num_classes, dtype=torch.bool)
    mask[present] = True
    missing = size - int(mask.sum())
    if missing > 0:
        others = torch.nonzero(~mask)[:, 0]
        pick = torch.randperm(others.numel(), generator=generator)[:missing]
        mask[others[pick]] = True
    return torch.nonzero(mask)[:, 0]


FUSION_MODES = ('prob', 'logit')


def fuse_branch_scores(visual_logits: torch.Tensor, language_logits: torch.Tensor,
                       alpha: float, mode: str = 'prob') -> torch.Tensor:
    """Inference scores of the LGR head, (B, C) probabilities.

    ``'prob'``: ``alpha * softmax(z1) + (1 - alpha) * softmax(z2)`` (the reference's inference);
    ``'logit'``: ``softmax(alpha * z1 + (1 - alpha) * z2)`` (a logit-space alternative).
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f'alpha must be in [0, 1], got {alpha}')
    if mode == 'prob':
        return alpha * visual_logits.softmax(-1) + (1 - alpha) * language_logits.softmax(-1)
    if mode == 'logit':
        return (alpha * visual_logits + (1 - alpha) * language_logits).softmax(-1)
    raise ValueError(f'unknown fusion mode {mode!r}; choose one of {FUSION_MODES}')
